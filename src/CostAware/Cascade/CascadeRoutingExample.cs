namespace CostAware;

/// <summary>A labelled example for the nearest-neighbour router: a prompt, and the cheapest tier whose answer to it was good enough.</summary>
/// <param name="Prompt">The prompt (the user's text).</param>
/// <param name="CheapestPassingTier">The index of the cheapest tier that answered it well (the last tier when none did).</param>
public sealed record class CascadeRoutingExample(string Prompt, int CheapestPassingTier);
