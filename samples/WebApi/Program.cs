// The CostAware web sample: dotnet run --project samples/WebApi, then
//   curl -i -X POST localhost:5000/ask -H 'X-Api-Key: acme-key' -H 'Content-Type: application/json' -d '{"text":"What is 2+2?"}'
//   curl 'localhost:5000/costaware/spend?groupBy=tenant&bucket=day' -H 'X-Api-Key: finance-key'
//   curl 'localhost:5000/costaware/budgets?tenant=acme' -H 'X-Api-Key: finance-key'
//   curl localhost:5000/health
await CostAware.Samples.WebApi.SampleApp.Build(args).RunAsync();
