namespace CostAware;

/// <summary>Which requests the semantic cache matches by meaning, and which turn it embeds.</summary>
public enum SemanticMatchScope
{
    /// <summary>
    /// Only a conversation's first user turn (system or developer messages, then one user message of text) is matched;
    /// longer conversations pass through to the exact cache and the provider. The safe default: a follow-up such as
    /// "and in French?" means nothing without what came before.
    /// </summary>
    FirstUserTurn = 0,

    /// <summary>
    /// The last user turn of any conversation is matched, and every earlier turn is part of the exact partition: a
    /// follow-up is reused only after the very same earlier turns.
    /// </summary>
    LastUserTurn = 1,
}
