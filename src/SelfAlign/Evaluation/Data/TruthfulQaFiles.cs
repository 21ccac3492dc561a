using System.Text.Json.Nodes;

namespace SelfAlign.Evaluation;

/// <summary>One answer to choose among, and whether it is true.</summary>
public sealed record McCandidate(string Text, bool Correct);

/// <summary>A TruthfulQA multiple-choice question: MC1 has one true answer, MC2 several.</summary>
public sealed record TruthfulQaQuestion(string Id, string Question, IReadOnlyList<McCandidate> Mc1, IReadOnlyList<McCandidate> Mc2);

/// <summary>A TruthfulQA generation question with its reference answers.</summary>
public sealed record TruthfulQaGenerationQuestion(string Id, string Category, string Question, string BestAnswer,
    IReadOnlyList<string> CorrectAnswers, IReadOnlyList<string> IncorrectAnswers);

/// <summary>TruthfulQA's files as distributed: <c>mc_task.json</c> (multiple choice) and <c>TruthfulQA.csv</c> (generation).</summary>
public static class TruthfulQaFiles
{
    /// <summary>
    /// <c>mc_task.json</c>: an array of <c>{question, mc1_targets: {answer: 0|1}, mc2_targets: {...}}</c>. Ids are the
    /// questions' positions (tq0001, ...), so a resumed evaluation finds its place.
    /// </summary>
    public static List<TruthfulQaQuestion> ReadMcTask(string path)
    {
        if (EvalFile.Parse(path) is not JsonArray items) throw new InvalidInputException($"{path}: expected a JSON array of questions");
        var result = new List<TruthfulQaQuestion>();
        for (var i = 0; i < items.Count; i++)
        {
            var field = $"[{i}]";
            if (items[i] is not JsonObject q) throw new InvalidInputException($"{path}: {field}: expected an object");
            result.Add(new TruthfulQaQuestion($"tq{i + 1:D4}", EvalFile.String(q["question"], path, field + ".question"),
                Targets(q["mc1_targets"], path, field + ".mc1_targets", exactlyOne: true), Targets(q["mc2_targets"], path, field + ".mc2_targets", exactlyOne: false)));
        }
        return result;
    }

    private static List<McCandidate> Targets(JsonNode? node, string path, string field, bool exactlyOne)
    {
        if (node is not JsonObject targets || targets.Count < 2) throw new InvalidInputException($"{path}: {field}: expected an object of at least two answers");
        var list = targets.Select(kv => new McCandidate(kv.Key, EvalFile.Number(kv.Value, path, $"{field}.\"{kv.Key}\"") switch
        {
            1 => true,
            0 => false,
            var x => throw new InvalidInputException($"{path}: {field}.\"{kv.Key}\": expected 0 or 1, got {x}"),
        })).ToList();
        var correct = list.Count(c => c.Correct);
        if (exactlyOne ? correct != 1 : correct == 0 || correct == list.Count)
            throw new InvalidInputException($"{path}: {field}: {correct} true answers of {list.Count} (MC1 needs exactly one; MC2 at least one true and one false)");
        return list;
    }

    /// <summary><c>TruthfulQA.csv</c>: Type, Category, Question, Best Answer, Correct Answers, Incorrect Answers (answers separated by "; ").</summary>
    public static List<TruthfulQaGenerationQuestion> ReadCsv(string path)
    {
        var rows = CsvTable.Read(path, ["Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers"]);
        return rows.Select((r, i) => new TruthfulQaGenerationQuestion($"tqg{i + 1:D4}", r.Get("Category"), r.Require("Question"), r.Require("Best Answer"),
            Split(r.Get("Correct Answers")), Split(r.Get("Incorrect Answers")))).ToList();

        static List<string> Split(string answers) => answers.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }
}
