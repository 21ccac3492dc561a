using System.Globalization;
using System.Net;
using System.Text;

namespace SelfAlign.Evaluation.Report;

/// <summary>
/// One self-contained HTML page comparing runs side by side: per figure, an inline SVG chart of every run's value with
/// its 95% interval, and a table of all figures. Nothing is fetched (no fonts, scripts or styles from elsewhere); the one
/// inline script only shows and hides runs.
/// </summary>
public static class HtmlReport
{
    private static readonly string[] Palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
    private const int LabelWidth = 260, BarWidth = 420, TextWidth = 200, RowHeight = 22;

    public static void Write(string path, IReadOnlyList<ReportRun> runs, string title)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        File.WriteAllText(path, Render(runs, title));
    }

    public static string Render(IReadOnlyList<ReportRun> runs, string title)
    {
        if (runs.Count == 0) throw new InvalidInputException("a report needs at least one run");
        var html = new StringBuilder();
        html.Append(CultureInfo.InvariantCulture, $"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>{E(title)}</title>
            <style>
            body {"{"} font-family: system-ui, sans-serif; margin: 2em; color: #222; {"}"}
            h2 {"{"} margin-top: 1.6em; border-bottom: 1px solid #ccc; {"}"}
            .legend label {"{"} margin-right: 1.2em; white-space: nowrap; {"}"}
            .swatch {"{"} display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em; vertical-align: -0.1em; {"}"}
            table {"{"} border-collapse: collapse; margin-top: 1em; font-size: 0.9em; {"}"}
            th, td {"{"} border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; {"}"}
            svg text {"{"} font-size: 12px; {"}"}
            .note {"{"} color: #666; font-size: 0.85em; {"}"}
            </style></head>
            <body>
            <h1>{E(title)}</h1>
            <p class="note">Bars are values; whiskers are 95% intervals. Figures of harm and of successful attacks are better low.</p>
            <div class="legend">
            """);
        for (var i = 0; i < runs.Count; i++)
            html.Append(CultureInfo.InvariantCulture,
                $"""<label><input type="checkbox" checked data-toggle="{i}"><span class="swatch" style="background:{Color(i)}"></span>{E(runs[i].Label)}</label>""");
        html.Append("</div>\n");

        var keys = runs.SelectMany(r => r.Figures).Select(f => (f.Group, f.Name)).Distinct().ToList();
        foreach (var group in keys.Select(k => k.Group).Distinct())
        {
            html.Append(CultureInfo.InvariantCulture, $"<h2>{E(group.Length > 0 ? group : "figures")}</h2>\n");
            foreach (var (_, name) in keys.Where(k => k.Group == group)) html.Append(Chart(runs, group, name));
        }

        html.Append("<h2>All figures</h2>\n<table><tr><th>suite</th><th>figure</th>");
        for (var i = 0; i < runs.Count; i++) html.Append(CultureInfo.InvariantCulture, $"""<th data-run="{i}">{E(runs[i].Label)}</th>""");
        html.Append("</tr>\n");
        foreach (var (group, name) in keys)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(group)}</td><td>{E(name)}</td>");
            for (var i = 0; i < runs.Count; i++)
                html.Append(CultureInfo.InvariantCulture, $"""<td data-run="{i}">{E(Find(runs[i], group, name) is { } f ? Describe(f) : "")}</td>""");
            html.Append("</tr>\n");
        }
        html.Append("""
            </table>
            <script>
            window.addEventListener("error", e => document.documentElement.dataset.scriptError = String(e.message));
            for (const box of document.querySelectorAll("input[data-toggle]")) {
              box.addEventListener("change", () => {
                for (const el of document.querySelectorAll(`[data-run="${box.dataset.toggle}"]`)) el.style.display = box.checked ? "" : "none";
              });
            }
            document.documentElement.dataset.ready = "1";
            </script>
            </body></html>

            """);
        return html.ToString();
    }

    /// <summary>One figure: a row per run that has it, the bar from zero (or the scale's low end) to the value, a whisker over the interval.</summary>
    private static string Chart(IReadOnlyList<ReportRun> runs, string group, string name)
    {
        var rows = runs.Select((r, i) => (Index: i, Run: r, Figure: Find(r, group, name))).Where(x => x.Figure is not null).ToList();
        var ends = rows.SelectMany(x => new[] { x.Figure!.Value, x.Figure.Low ?? x.Figure.Value, x.Figure.High ?? x.Figure.Value }).ToList();
        var proportion = ends.All(v => v is >= 0 and <= 1);
        var (min, max) = proportion ? (0.0, 1.0) : (ends.Min() < 0 ? -RoundUp(-ends.Min()) : 0, RoundUp(Math.Max(ends.Max(), 0)));
        if (max <= min) max = min + 1;
        double X(double v) => LabelWidth + (v - min) / (max - min) * BarWidth;
        var (width, height) = (LabelWidth + BarWidth + TextWidth, rows.Count * RowHeight + 28);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""
            <h3>{E(name)}{(rows[0].Figure!.LowerIsBetter ? " <span class=\"note\">(lower is better)</span>" : "")}</h3>
            <svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{E(group + " " + name)}">
            <line x1="{X(min):F1}" y1="0" x2="{X(min):F1}" y2="{height - 20}" stroke="#999"/>
            <text x="{X(min):F1}" y="{height - 6}" text-anchor="middle">{Number(min)}</text>
            <text x="{X(max):F1}" y="{height - 6}" text-anchor="middle">{Number(max)}</text>

            """);
        for (var k = 0; k < rows.Count; k++)
        {
            var (i, run, f) = (rows[k].Index, rows[k].Run, rows[k].Figure!);
            var y = k * RowHeight + 4;
            svg.Append(CultureInfo.InvariantCulture, $"""
                <g data-run="{i}"><title>{E(run.Label)}: {E(Describe(f))}</title>
                <text x="{LabelWidth - 8}" y="{y + 13}" text-anchor="end">{E(Shorten(run.Label))}</text>
                <rect x="{X(min):F1}" y="{y + 2}" width="{Math.Max(0, X(f.Value) - X(min)):F1}" height="{RowHeight - 8}" fill="{Color(i)}"/>
                """);
            if (f.Low is { } low && f.High is { } high)
                svg.Append(CultureInfo.InvariantCulture, $"""
                    <line x1="{X(low):F1}" y1="{y + 9}" x2="{X(high):F1}" y2="{y + 9}" stroke="#222"/><line x1="{X(low):F1}" y1="{y + 4}" x2="{X(low):F1}" y2="{y + 14}" stroke="#222"/><line x1="{X(high):F1}" y1="{y + 4}" x2="{X(high):F1}" y2="{y + 14}" stroke="#222"/>
                    """);
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{LabelWidth + BarWidth + 8}" y="{y + 13}">{E(Describe(f))}</text></g>""").Append('\n');
        }
        return svg.Append("</svg>\n").ToString();
    }

    private static ReportFigure? Find(ReportRun run, string group, string name) => run.Figures.FirstOrDefault(f => f.Group == group && f.Name == name);

    private static string Describe(ReportFigure f)
    {
        var text = Number(f.Value);
        if (f.Low is { } low && f.High is { } high) text += $" [{Number(low)}, {Number(high)}]";
        return f.N is { } n ? $"{text} n={n}" : text;
    }

    private static string Number(double v) => v.ToString(Math.Abs(v) >= 100 ? "F0" : "0.###", CultureInfo.InvariantCulture);

    /// <summary>The axis end at or above <paramref name="v"/>: 1, 2, 2.5 or 5 times a power of ten.</summary>
    private static double RoundUp(double v)
    {
        if (v <= 0) return 0;
        var power = Math.Pow(10, Math.Floor(Math.Log10(v)));
        return new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * power).First(x => x >= v * (1 - 1e-12));
    }

    private static string Shorten(string label) => label.Length <= 36 ? label : label[..35] + "…";

    private static string Color(int i) => Palette[i % Palette.Length];

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
