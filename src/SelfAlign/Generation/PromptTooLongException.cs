namespace SelfAlign.Generation;

/// <summary>A prompt plus its new tokens does not fit the context.</summary>
public sealed class PromptTooLongException(int promptTokens, int maxNewTokens, int contextSize)
    : Exception($"prompt of {promptTokens} tokens plus {maxNewTokens} new tokens does not fit the context of {contextSize} tokens")
{
    public int PromptTokens { get; } = promptTokens;
}
