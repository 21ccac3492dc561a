namespace SelfAlign.Generation;

/// <summary>A prompt plus its new tokens does not fit the context.</summary>
public sealed class PromptTooLongException : InvalidInputException
{
    public PromptTooLongException(int promptTokens, int maxNewTokens, int contextSize)
        : base($"prompt of {promptTokens} tokens plus {maxNewTokens} new tokens does not fit the context of {contextSize} tokens") =>
        PromptTokens = promptTokens;

    public PromptTooLongException(int promptTokens, string message) : base(message) => PromptTokens = promptTokens;

    public int PromptTokens { get; }
}
