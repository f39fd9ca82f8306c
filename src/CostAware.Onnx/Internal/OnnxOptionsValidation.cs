using System.ComponentModel.DataAnnotations;

namespace CostAware.Internal;

// Checks options handed to a constructor directly (DI validates them at start-up the same way).
internal static class OnnxOptionsValidation
{
    public static void Check(OnnxModelOptions options)
    {
        List<ValidationResult> results = [];
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            throw new ArgumentException(string.Join(" ", results.Select(r => r.ErrorMessage)), nameof(options));
        }

        if (!Directory.Exists(options.ModelPath))
        {
            throw new DirectoryNotFoundException($"The model folder '{options.ModelPath}' does not exist.");
        }
    }
}
