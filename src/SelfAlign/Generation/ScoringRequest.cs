namespace SelfAlign.Generation;

/// <summary>Log-probability of <see cref="Continuation"/> given <see cref="Context"/>.</summary>
public sealed record ScoringRequest(string Context, string Continuation);

/// <summary>Total and per-token log-probabilities (natural log) of a continuation.</summary>
public sealed record ScoreResult(double LogProbability, IReadOnlyList<double> TokenLogProbabilities, IReadOnlyList<int> Tokens);
