namespace SelfAlign.Generation;

/// <summary>Turns a conversation into prompt text for a model.</summary>
public interface IChatFormat
{
    /// <param name="turns">the conversation so far.</param>
    /// <param name="addAssistantPrefix">end with the text that opens the assistant's reply.</param>
    string Format(IReadOnlyList<ChatTurn> turns, bool addAssistantPrefix = true);

    /// <summary>Strings that mark the end of the assistant's turn in raw text (e.g. the next user header).</summary>
    IReadOnlyList<string> StopStrings { get; }
}
