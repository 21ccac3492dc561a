using System.Text;
using SelfAlign.Generation;

namespace SelfAlign.Server.Protocol;

/// <summary>Engine values as OpenAI's API writes them.</summary>
internal static class Wire
{
    public static string FinishReason(Generation.FinishReason reason) => reason == Generation.FinishReason.Length ? "length" : "stop";

    /// <summary>Each prompt is counted once however many choices share it, as OpenAI counts; results come prompt by prompt.</summary>
    public static object Usage(IReadOnlyList<GenerationResult> results, int choicesPerPrompt)
    {
        var prompt = results.Where((_, i) => i % choicesPerPrompt == 0).Sum(r => r.PromptTokenCount);
        var completion = results.Sum(r => r.Tokens.Count);
        return new { PromptTokens = prompt, CompletionTokens = completion, TotalTokens = prompt + completion };
    }

    public static string TokenText(ServedModel model, int token) => Encoding.UTF8.GetString(model.Engine.Model.Vocabulary.TokenBytes(token));
    public static int[] TokenBytes(ServedModel model, int token) => [.. model.Engine.Model.Vocabulary.TokenBytes(token).ToArray().Select(b => (int)b)];
}
