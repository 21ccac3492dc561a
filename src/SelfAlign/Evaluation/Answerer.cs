using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Rain;

namespace SelfAlign.Evaluation;

/// <summary>
/// Answers conversations for the generation suites with one model and decoder: greedy or sampled requests batched
/// through its engine (or server), or RAIN searches one after another. Each answer has its own seed, derived from its
/// id, so it is the same whichever batch it lands in.
/// </summary>
internal sealed class Answerer(ITextGenerator generator, EvalDecoder decoder, RainDecoder? rain, EvalOptions o)
{
    public async Task<(string Text, string Finish)[]> AnswerAsync(IReadOnlyList<(string Id, IReadOnlyList<ChatTurn> Conversation)> items, CancellationToken ct)
    {
        if (decoder != EvalDecoder.Rain)
        {
            var requests = items.Select(x => new GenerationRequest
            {
                Prompt = o.ChatFormat.Format(x.Conversation), MaxNewTokens = o.MaxNewTokens, StopStrings = o.ChatFormat.StopStrings,
                Sampling = decoder == EvalDecoder.Greedy ? SamplingOptions.Greedy : new SamplingOptions { Temperature = o.Temperature, Seed = Seed(x.Id) },
            }).ToList();
            var answers = new (string, string)[items.Count];
            await foreach (var (i, result) in generator.GenerateBatchAsync(requests, ct)) answers[i] = (result.Text, result.FinishReason.ToString());
            return answers;
        }
        var search = rain ?? throw new InvalidOperationException("the RAIN decoder answers with a RainDecoder");
        var options = search.Options with { MaxNewTokens = o.MaxNewTokens, StopStrings = o.ChatFormat.StopStrings, Temperature = o.Temperature };
        var prompts = items.Select(x => new RainPrompt(o.ChatFormat.Format(x.Conversation), x.Conversation[^1].Content, Seed(x.Id))).ToList();
        var batch = await Task.Run(() => search.GenerateMany(prompts, options, cancellationToken: ct), ct);
        // a search ends at its token budget or at a stop (a stop string or the end of the turn)
        return batch.Answers.Select(r => (r.Text, r.Tokens.Length >= o.MaxNewTokens ? nameof(FinishReason.Length) : "Stop")).ToArray();
    }

    private ulong Seed(string id) => o.Seed ^ Seeds.Hash(id);
}
