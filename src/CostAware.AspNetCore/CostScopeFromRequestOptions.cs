namespace CostAware;

/// <summary>
/// Where <c>UseCostAwareScope()</c> reads each request's <see cref="CostScope"/> from. Claims come from authentication
/// and can be trusted; route values and headers are whatever the caller sent, so a dimension read from them can be
/// spoofed (another tenant's budget spent, another tenant's cache partition read): map them only for callers you
/// authenticate by other means, or for dimensions that carry no authority (a feature name).
/// </summary>
public sealed class CostScopeFromRequestOptions
{
    /// <summary>Gets the claim type each dimension is read from (for example <c>Tenant</c> from <c>"tenant_id"</c>). Claims win over route values and headers.</summary>
    public IDictionary<CostScopeDimension, string> Claims { get; } = new Dictionary<CostScopeDimension, string>();

    /// <summary>Gets the route value each dimension is read from. Route values win over headers.</summary>
    public IDictionary<CostScopeDimension, string> RouteValues { get; } = new Dictionary<CostScopeDimension, string>();

    /// <summary>Gets the request header each dimension is read from (see the remarks on spoofing).</summary>
    public IDictionary<CostScopeDimension, string> Headers { get; } = new Dictionary<CostScopeDimension, string>();

    /// <summary>
    /// Gets or sets the app's own reading of the scope, applied last: it receives the scope read so far and returns the
    /// one to use (or <see langword="null"/> for none).
    /// </summary>
    public Func<Microsoft.AspNetCore.Http.HttpContext, CostScope, CostScope?>? Resolve { get; set; }

    /// <summary>Gets or sets the longest value accepted for a dimension; a longer one is ignored (and logged), so that a caller cannot blow up budget keys.</summary>
    /// <value>The default value is 256.</value>
    public int MaxValueLength { get; set; } = 256;
}
