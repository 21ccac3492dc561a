namespace SelfAlign.Generation;

/// <summary>
/// What evaluation and screening need from an engine: the log-probability of a continuation given its context.
/// <see cref="GenerationEngine"/> scores in process; <see cref="Remote.OpenAiBackend"/> asks an OpenAI-compatible server
/// for the prompt's own log-probabilities.
/// </summary>
public interface ITextScorer
{
    /// <summary>Each continuation's log-probabilities given its context, in the requests' order.</summary>
    Task<IReadOnlyList<ScoreResult>> ScoreAsync(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellationToken = default);
}
