using System.Net;
using System.Net.Http.Headers;

namespace CostAware.Shared;

// An in-process stand-in for one HTTP exchange with a provider, for running a provider's own SDK client without a
// network: it keeps the body the SDK sent and answers with the given JSON. This is how a call is turned into the exact
// request body a synchronous call would send, and a batch result back into the response it would have received.
internal sealed class SdkExchange(string response) : HttpMessageHandler
{
    public byte[]? RequestBody { get; private set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        RequestBody = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        HttpResponseMessage message = new(HttpStatusCode.OK) { Content = new StringContent(response) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return message;
    }
}
