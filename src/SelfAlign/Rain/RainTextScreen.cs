using SelfAlign.Generation;

namespace SelfAlign.Rain;

/// <summary>
/// RAIN's screening (self-evaluation of finished answers) through any <see cref="ITextGenerator"/> that reports the
/// prompt's own log-probabilities: the in-process engine, or an OpenAI-compatible server answering <c>echo</c> with
/// <c>logprobs</c> (vLLM, <c>selfalign serve</c>; llama.cpp's server does not). Each answer, option order and label is one
/// request that scores the label as the prompt's last token, so the values are exact, as the decoder's are.
/// </summary>
public static class RainTextScreen
{
    public static async Task<IReadOnlyList<RainScreenResult>> ScreenAsync(ITextGenerator generator, RainJudge judge, IReadOnlyList<(string Request, string Answer)> items,
        double threshold = 0, RainScoring scoring = RainScoring.Vote, CancellationToken cancellationToken = default)
    {
        var labels = judge.LabelTokens(generator.Vocabulary);
        var orders = judge.Orders.Count;
        // per item, per order: the good label's request, then the bad one's
        var requests = items.SelectMany(item => judge.Orders.SelectMany(order => new[] { order.Good, order.Bad }.Select(label => new GenerationRequest
        {
            Prompt = judge.Header(item.Request) + item.Answer + order.Suffix + label, MaxNewTokens = 0, PromptLogProbabilities = true,
            ParseSpecialTokens = false, // the user's text is data, not chat markers
        }))).ToList();
        var scores = new double[requests.Count];
        await foreach (var (i, r) in generator.GenerateBatchAsync(requests, cancellationToken))
        {
            var (o, isBad) = (i / 2 % orders, i % 2 == 1);
            var expected = isBad ? labels[o].Bad : labels[o].Good;
            // compared by text: a server names tokens by their text, and some texts have two ids (a byte token and a piece)
            scores[i] = r.PromptLogProbabilities is [.., { LogProbability: { } last } lastToken] && lastToken.Token >= 0 &&
                        generator.Vocabulary.TokenBytes(lastToken.Token).SequenceEqual(generator.Vocabulary.TokenBytes(expected))
                ? last.LogProbability
                : throw new InvalidInputException($"the judge's label '{(isBad ? judge.Orders[o].Bad : judge.Orders[o].Good)}' is not the last token of its " +
                                                  "judgement prompt as the engine tokenised it, or the engine returned no prompt log-probabilities");
        }
        return items.Select((_, k) =>
        {
            var good = Enumerable.Range(0, orders).Select(o => scores[(k * orders + o) * 2]).ToArray();
            var bad = Enumerable.Range(0, orders).Select(o => scores[(k * orders + o) * 2 + 1]).ToArray();
            var value = RainSearch.Value(new RainJudgement(good, bad, null), scoring);
            return new RainScreenResult(value, value > threshold);
        }).ToList();
    }
}
