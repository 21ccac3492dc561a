using System.Text.Json;
using System.Text.Json.Nodes;

namespace SelfAlign.Evaluation.Report;

/// <summary>
/// Reads runs for a report from the files the tool writes: an evaluation's <c>summary.json</c> (one run; its suites'
/// figures), or a JSON array of rows, each a setting with its figures (the demo's <c>evaluations.json</c>, one run per
/// row). A figure is any object with a numeric <c>value</c>, read with its interval (<c>low</c>/<c>high</c> or
/// <c>ci95_low</c>/<c>ci95_high</c>) and <c>n</c>, or a plain number beside such objects (a mean length, a time ratio).
/// </summary>
public static class ReportSources
{
    /// <param name="label">the run's label; by default the evaluated model's file name (and decoder), or each row's setting.</param>
    public static IReadOnlyList<ReportRun> Read(string path, string? label = null)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidInputException($"{path}: not JSON ({e.Message})"); }
        catch (IOException e) { throw new InvalidInputException($"{path}: {e.Message}"); }
        switch (root)
        {
            case JsonObject summary when summary["suites"] is JsonObject suites:
                var figures = suites.SelectMany(s => Figures(s.Key, s.Value as JsonObject ?? [], "")).ToList();
                return [new ReportRun(label ?? DefaultLabel(summary), figures)];
            case JsonArray rows:
                return rows.Select((row, i) => row is JsonObject r && (string?)r["setting"] is { } setting
                        ? new ReportRun(label is null ? setting : $"{label}: {setting}", Figures("", r, "").ToList())
                        : throw new InvalidInputException($"{path}: [{i}] is not a row with a \"setting\""))
                    .ToList();
            default:
                throw new InvalidInputException($"{path}: neither an evaluation summary (an object with \"suites\") nor an array of rows with figures");
        }
    }

    /// <summary>The figures in <paramref name="o"/> and the objects nested in it (HHH's subsets), named by their path.</summary>
    private static IEnumerable<ReportFigure> Figures(string group, JsonObject o, string prefix)
    {
        foreach (var (name, node) in o)
        {
            if (node is not JsonObject f)
            {
                // plain numbers at the top (counts apart) are figures without an interval; deeper ones are details
                if (prefix.Length == 0 && name is not ("n" or "count") && Number(node) is { } plain) yield return new ReportFigure(group, name, plain, null, null, null);
                continue;
            }
            if (Number(f["value"]) is { } value)
                yield return new ReportFigure(group, prefix + name, value, Number(f["low"] ?? f["ci95_low"]), Number(f["high"] ?? f["ci95_high"]), (int?)Number(f["n"]));
            else
                foreach (var inner in Figures(group, f, $"{prefix}{name} ")) yield return inner;
        }
    }

    private static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    private static string DefaultLabel(JsonObject summary)
    {
        var label = Path.GetFileNameWithoutExtension((string?)summary["model"] ?? "model");
        foreach (var adapter in summary["adapters"] as JsonArray ?? []) label += " + " + Path.GetFileNameWithoutExtension((string?)adapter);
        return summary["decoder"] is { } decoder ? $"{label} ({decoder})" : label;
    }
}
