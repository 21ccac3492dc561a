using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace SelfAlign.Generation;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over a <see cref="GenerationEngine"/>, so SelfAlign
/// models plug into code written against that contract. Text content only; tools are not supported. Unset options take
/// OpenAI's defaults (temperature 1, top-p 1) and an unset seed a fresh one, so the in-process client and a
/// <c>selfalign serve</c> endpoint answer alike.
/// </summary>
public sealed class LlamaChatClient(GenerationEngine engine, IChatFormat format, int defaultMaxOutputTokens = 512) : IChatClient
{
    private readonly ChatClientMetadata _metadata = new("selfalign", null, Path.GetFileName(engine.Model.Path));

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var result = await engine.GenerateAsync(ToRequest(messages, options), cancellationToken);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, result.Text))
        {
            FinishReason = FinishReasonOf(result),
            ModelId = _metadata.DefaultModelId,
            Usage = Usage(result),
        };
    }

    private static ChatFinishReason FinishReasonOf(GenerationResult r) => r.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop;

    private static UsageDetails Usage(GenerationResult r) => new()
    {
        InputTokenCount = r.PromptTokenCount, OutputTokenCount = r.Tokens.Count, TotalTokenCount = r.PromptTokenCount + r.Tokens.Count,
    };

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var u in engine.GenerateStreamingAsync(ToRequest(messages, options), cancellationToken))
        {
            var update = new ChatResponseUpdate(ChatRole.Assistant, u.TextDelta) { ModelId = _metadata.DefaultModelId };
            if (u.Result is { } r)
            {
                update.FinishReason = FinishReasonOf(r);
                update.Contents.Add(new UsageContent(Usage(r)));
            }
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(engine) ? engine
        : null;

    /// <summary>The engine belongs to the caller; disposing the client leaves it running.</summary>
    public void Dispose() { }

    private GenerationRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? o)
    {
        var turns = new List<ChatTurn>();
        if (o?.Instructions is { Length: > 0 } instructions) turns.Add(new ChatTurn("system", instructions));
        turns.AddRange(messages.Select(m => new ChatTurn(m.Role.Value, m.Text)));
        var sampling = new SamplingOptions
        {
            Temperature = o?.Temperature ?? 1f,
            TopP = o?.TopP ?? 1f,
            TopK = o?.TopK ?? 0,
            Seed = (ulong)(o?.Seed ?? Random.Shared.NextInt64()),
            FrequencyPenalty = o?.FrequencyPenalty ?? 0f,
            PresencePenalty = o?.PresencePenalty ?? 0f,
        };
        return new GenerationRequest
        {
            Prompt = format.Format(turns),
            MaxNewTokens = o?.MaxOutputTokens ?? defaultMaxOutputTokens,
            Sampling = sampling,
            StopStrings = [.. format.StopStrings, .. o?.StopSequences ?? []],
        };
    }
}
