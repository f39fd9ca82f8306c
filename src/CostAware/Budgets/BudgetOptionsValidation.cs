using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace CostAware.Internal;

[OptionsValidator]
internal sealed partial class BudgetOptionsValidator : IValidateOptions<BudgetOptions>
{
}

// Every rule the attributes cannot express, and the check a stage built without DI runs when it is built. Messages
// name the budget, the option and the value.
internal static partial class BudgetOptionsValidation
{
    public static void ThrowIfInvalid(BudgetOptions options)
    {
        ValidateOptionsResult result = new BudgetOptionsValidator().Validate(nameof(BudgetOptions), options);
        List<string> failures = result.Failed ? [.. result.Failures] : [];
        failures.AddRange(CrossFieldFailures(options));
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(nameof(BudgetOptions), typeof(BudgetOptions), failures);
        }
    }

    public static IEnumerable<string> CrossFieldFailures(BudgetOptions options)
    {
        foreach (KeyValuePair<string, BudgetDefinition> pair in options.Budgets)
        {
            string name = pair.Key;
            BudgetDefinition? budget = pair.Value;
            string at = $"Budget:Budgets:{name}";
            if (!NamePattern().IsMatch(name))
            {
                yield return $"Budget:Budgets: the budget name '{name}' must be 1 to 64 printable ASCII characters without spaces, '|', '{{' or '}}'.";
            }

            if (budget is null)
            {
                yield return $"{at} is empty: give it a Limit or MaxCalls.";
                continue;
            }

            List<ValidationResult> results = [];
            if (!Validator.TryValidateObject(budget, new ValidationContext(budget), results, validateAllProperties: true))
            {
                foreach (ValidationResult failure in results)
                {
                    yield return $"{at}: {failure.ErrorMessage}";
                }
            }

            if (budget.Limit is null && budget.MaxCalls is null && budget.ScopeLimits.Count == 0)
            {
                yield return $"{at} sets no limit: give it a Limit (money), MaxCalls, or both.";
            }

            if (budget.Limit is { } limit && (limit <= 0m || limit > BudgetMoney.MaxLimit))
            {
                yield return string.Create(CultureInfo.InvariantCulture, $"{at}:Limit ({limit}) must be greater than 0 and at most {BudgetMoney.MaxLimit:0}.");
            }

            HashSet<CostScopeDimension> seen = [];
            foreach (CostScopeDimension dimension in budget.Per)
            {
                if (!Enum.IsDefined(dimension))
                {
                    yield return $"{at}:Per: '{dimension}' is not a scope dimension (Tenant, User, ApiKey, Agent, Workflow, Feature).";
                }
                else if (!seen.Add(dimension))
                {
                    yield return $"{at}:Per names {dimension} twice.";
                }
            }

            foreach (KeyValuePair<CostScopeDimension, string> condition in budget.Where)
            {
                if (!Enum.IsDefined(condition.Key))
                {
                    yield return $"{at}:Where: '{condition.Key}' is not a scope dimension (Tenant, User, ApiKey, Agent, Workflow, Feature).";
                }

                if (string.IsNullOrEmpty(condition.Value))
                {
                    yield return $"{at}:Where:{condition.Key} must not be empty.";
                }
            }

            foreach (KeyValuePair<string, decimal> scopeLimit in budget.ScopeLimits)
            {
                if (scopeLimit.Value <= 0m || scopeLimit.Value > BudgetMoney.MaxLimit)
                {
                    yield return string.Create(CultureInfo.InvariantCulture, $"{at}:ScopeLimits:{scopeLimit.Key} ({scopeLimit.Value}) must be greater than 0 and at most {BudgetMoney.MaxLimit:0}.");
                }

                if (budget.Per.Count == 0 || scopeLimit.Key.Split('/').Length != budget.Per.Count)
                {
                    yield return $"{at}:ScopeLimits: the key '{scopeLimit.Key}' must give one value for each Per dimension ({budget.Per.Count}), joined with '/'.";
                }
            }

            if (budget.Window == BudgetWindow.Rolling && budget.RollingDuration is null)
            {
                yield return $"{at}:RollingDuration is required for a Rolling window.";
            }
            else if (budget.Window != BudgetWindow.Rolling && budget.RollingDuration is not null)
            {
                yield return $"{at}:RollingDuration ({budget.RollingDuration}) is only used by a Rolling window, and Window is {budget.Window}.";
            }

            if (!string.IsNullOrWhiteSpace(budget.TimeZone) && !TryFindZone(budget.TimeZone))
            {
                yield return $"{at}:TimeZone '{budget.TimeZone}' is not a time zone this system knows (use an IANA id such as 'Europe/Paris', or 'UTC').";
            }

            if (budget.Action == BudgetAction.SwitchModel && string.IsNullOrWhiteSpace(budget.FallbackModelId))
            {
                yield return $"{at}:FallbackModelId is required when Action is SwitchModel.";
            }
            else if (budget.Action != BudgetAction.SwitchModel && budget.FallbackModelId is not null)
            {
                yield return $"{at}:FallbackModelId ('{budget.FallbackModelId}') is only used when Action is SwitchModel, and Action is {budget.Action}.";
            }

            if (budget.Action == BudgetAction.ClampOutput && budget.Limit is null && budget.ScopeLimits.Count == 0)
            {
                yield return $"{at}:Action ClampOutput needs a money Limit to clamp to.";
            }

            if (budget.Thresholds is { } thresholds)
            {
                HashSet<double> distinct = [];
                foreach (double threshold in thresholds)
                {
                    if (!(threshold > 0d && threshold <= 1d))
                    {
                        yield return string.Create(CultureInfo.InvariantCulture, $"{at}:Thresholds: {threshold} must be a fraction of the limit in (0, 1].");
                    }
                    else if (!distinct.Add(threshold))
                    {
                        yield return string.Create(CultureInfo.InvariantCulture, $"{at}:Thresholds names {threshold} twice.");
                    }
                }
            }
        }
    }

    private static bool TryFindZone(string id)
    {
        try
        {
            _ = TimeZoneInfo.FindSystemTimeZoneById(id);
            return true;
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^[\x21-\x7A\x7E]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}

internal sealed class BudgetOptionsCrossFieldValidator : IValidateOptions<CostAwareOptions>
{
    public ValidateOptionsResult Validate(string? name, CostAwareOptions options)
    {
        List<string> failures = [.. BudgetOptionsValidation.CrossFieldFailures(options.Budget)];
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
