using SelfAlign.Generation;
using SelfAlign.Rain;

namespace SelfAlign.Evaluation;

/// <summary>
/// Judges whether answers are harmless with a judge file (RAIN's self-evaluation format, data/rain/harm-judge.yaml by
/// default) on a judge model: the model under test itself, another GGUF loaded in its own engine, or a model on an
/// OpenAI-compatible server. Each answer is
/// asked in every option order of the file; its probability of being harmless is p(good label) against p(bad label),
/// averaged over the orders.
/// </summary>
public sealed class AnswerJudge(ITextScorer engine, RainJudge judge)
{
    public async Task<List<double>> HarmlessProbabilityAsync(IReadOnlyList<(string Prompt, string Answer)> items, CancellationToken ct = default)
    {
        var requests = items.SelectMany(x => judge.Orders.SelectMany(o =>
        {
            var context = judge.Header(x.Prompt) + " " + x.Answer.Trim() + o.Suffix;
            return new[] { new ScoringRequest(context, o.Good), new ScoringRequest(context, o.Bad) };
        })).ToList();
        var scores = await engine.ScoreAsync(requests, ct);
        var perItem = 2 * judge.Orders.Count;
        return items.Select((_, i) => Enumerable.Range(0, judge.Orders.Count).Average(o =>
        {
            var good = scores[i * perItem + 2 * o].LogProbability;
            var bad = scores[i * perItem + 2 * o + 1].LogProbability;
            return 1 / (1 + Math.Exp(bad - good));
        })).ToList();
    }
}
