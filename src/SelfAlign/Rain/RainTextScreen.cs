using SelfAlign.Generation;

namespace SelfAlign.Rain;

/// <summary>
/// RAIN's screening (self-evaluation of finished answers) through any <see cref="ITextScorer"/>: the in-process engine, or
/// an OpenAI-compatible server answering <c>echo</c> with <c>logprobs</c> (vLLM, <c>selfalign serve</c>; llama.cpp's server
/// does not). Each answer, option order and label is one scored continuation: the label after the judgement prompt, so
/// the values are exact, as the decoder's are.
/// </summary>
public static class RainTextScreen
{
    public static async Task<IReadOnlyList<RainScreenResult>> ScreenAsync(ITextScorer scorer, RainJudge judge, IReadOnlyList<(string Request, string Answer)> items,
        double threshold = 0, RainScoring scoring = RainScoring.Vote, CancellationToken cancellationToken = default)
    {
        var orders = judge.Orders.Count;
        // per item, per order: the good label, then the bad one
        var scores = await scorer.ScoreAsync(items.SelectMany(item => judge.Orders.SelectMany(order =>
            new[] { order.Good, order.Bad }.Select(label => new ScoringRequest(judge.Header(item.Request) + item.Answer + order.Suffix, label)))).ToList(),
            cancellationToken);
        return items.Select((_, k) =>
        {
            var good = Enumerable.Range(0, orders).Select(o => scores[(k * orders + o) * 2].LogProbability).ToArray();
            var bad = Enumerable.Range(0, orders).Select(o => scores[(k * orders + o) * 2 + 1].LogProbability).ToArray();
            var value = RainSearch.Value(new RainJudgement(good, bad), scoring);
            return new RainScreenResult(value, value > threshold);
        }).ToList();
    }
}
