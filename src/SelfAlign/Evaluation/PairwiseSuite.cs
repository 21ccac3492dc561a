using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;

namespace SelfAlign.Evaluation;

/// <summary>One open question answered by the model and by the baseline, and the judge's verdict in both positions.</summary>
/// <param name="FirstMargin">log p(model's label) − log p(baseline's label) with the model's answer shown first.</param>
/// <param name="SecondMargin">the same with the baseline's answer shown first.</param>
public sealed record PairwiseJudgement(string Id, string Category, IReadOnlyList<string> Turns, IReadOnlyList<string> Answers,
    IReadOnlyList<string> BaselineAnswers, double FirstMargin, double SecondMargin)
{
    /// <summary>A win or a loss when the judge prefers the same answer in both positions; a tie otherwise.</summary>
    public string Outcome => FirstMargin > 0 && SecondMargin > 0 ? "win" : FirstMargin < 0 && SecondMargin < 0 ? "loss" : "tie";

    public JsonObject ToJson() => new()
    {
        ["id"] = Id, ["category"] = Category, ["turns"] = Strings(Turns), ["answers"] = Strings(Answers), ["baseline_answers"] = Strings(BaselineAnswers),
        ["first_margin"] = FirstMargin, ["second_margin"] = SecondMargin, ["outcome"] = Outcome,
    };

    private static JsonArray Strings(IReadOnlyList<string> items) => new(items.Select(s => (JsonNode)s).ToArray());
}

/// <summary>
/// Pairwise comparison on open questions (Vicuna-80, MT-Bench): the model and the baseline answer every turn of each
/// question, each seeing its own earlier answers; the judge is asked which answer is better with the model's first and
/// then with the baseline's first, and reads the option labels' log-probabilities.
/// </summary>
internal sealed class PairwiseSuite(Answerer model, Answerer baseline, ITextScorer judge, EvalOptions o)
{
    public async Task<List<PairwiseJudgement>> JudgeAsync(IReadOnlyList<PairwiseQuestion> questions, CancellationToken ct)
    {
        var answers = await AnswerAllTurnsAsync(model, questions, ct);
        var baselineAnswers = await AnswerAllTurnsAsync(baseline, questions, ct);
        var p = o.Prompts;
        var scores = await judge.ScoreAsync(questions.SelectMany((q, i) =>
        {
            var question = Numbered(q.Turns, "Turn");
            var first = TextTemplate.Fill(p.Pairwise, ("question", question), ("a", Numbered(answers[i], "Answer")), ("b", Numbered(baselineAnswers[i], "Answer")));
            var second = TextTemplate.Fill(p.Pairwise, ("question", question), ("a", Numbered(baselineAnswers[i], "Answer")), ("b", Numbered(answers[i], "Answer")));
            return new ScoringRequest[] { new(first, p.OptionA), new(first, p.OptionB), new(second, p.OptionA), new(second, p.OptionB) };
        }).ToList(), ct);
        return questions.Select((q, i) => new PairwiseJudgement(q.Id, q.Category, q.Turns, answers[i], baselineAnswers[i],
            scores[4 * i].LogProbability - scores[4 * i + 1].LogProbability, scores[4 * i + 3].LogProbability - scores[4 * i + 2].LogProbability)).ToList();
    }

    /// <summary>Turn by turn, every question's next turn in one batch, each conversation holding the answerer's own earlier answers.</summary>
    private static async Task<List<string>[]> AnswerAllTurnsAsync(Answerer answerer, IReadOnlyList<PairwiseQuestion> questions, CancellationToken ct)
    {
        var answers = questions.Select(_ => new List<string>()).ToArray();
        for (var turn = 0; turn < questions.Max(q => q.Turns.Count); turn++)
        {
            var open = Enumerable.Range(0, questions.Count).Where(i => questions[i].Turns.Count > turn).ToList();
            var items = open.Select(i => ($"{questions[i].Id}#{turn + 1}", (IReadOnlyList<ChatTurn>)Conversation(questions[i], answers[i]))).ToList();
            var replies = await answerer.AnswerAsync(items, ct);
            for (var k = 0; k < open.Count; k++) answers[open[k]].Add(replies[k].Text.Trim());
        }
        return answers;
    }

    private static List<ChatTurn> Conversation(PairwiseQuestion q, List<string> answers) =>
        answers.SelectMany((a, t) => new[] { new ChatTurn("user", q.Turns[t]), new ChatTurn("assistant", a) }).Append(new ChatTurn("user", q.Turns[answers.Count])).ToList();

    /// <summary>A single text as it is; several as "Turn 1: ...", "Turn 2: ...".</summary>
    private static string Numbered(IReadOnlyList<string> texts, string label) =>
        texts.Count == 1 ? texts[0] : string.Join("\n\n", texts.Select((t, k) => $"{label} {k + 1}: {t}"));
}
