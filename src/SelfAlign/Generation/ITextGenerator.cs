using SelfAlign.Models;

namespace SelfAlign.Generation;

/// <summary>
/// What a generation job needs from an engine: many requests completed, each result handed over as it finishes.
/// <see cref="GenerationEngine"/> is the in-process one; <see cref="Remote.OpenAiBackend"/> sends the same requests to an
/// OpenAI-compatible server (vLLM, llama.cpp's server, another <c>selfalign serve</c>).
/// </summary>
public interface ITextGenerator : IDisposable
{
    /// <summary>The vocabulary the requests' token ids (banned tokens, logit bias) refer to.</summary>
    Vocabulary Vocabulary { get; }

    /// <summary>Completes every request; yields each result with its index as it finishes. Leaving early cancels the rest.</summary>
    IAsyncEnumerable<(int Index, GenerationResult Result)> GenerateBatchAsync(IReadOnlyList<GenerationRequest> requests, CancellationToken cancellationToken = default);
}
