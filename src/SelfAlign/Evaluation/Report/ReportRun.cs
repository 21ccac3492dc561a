namespace SelfAlign.Evaluation.Report;

/// <summary>One figure of a run: a value with its 95% interval and count, under a group (a suite) and a name.</summary>
public sealed record ReportFigure(string Group, string Name, double Value, double? Low, double? High, int? N)
{
    /// <summary>Figures of harm and successful attacks are better low.</summary>
    public bool LowerIsBetter => Name.Contains("harmful", StringComparison.Ordinal) || Name.Contains("attack_success", StringComparison.Ordinal);
}

/// <summary>One model or decoder as a report shows it: its label and its figures.</summary>
public sealed record ReportRun(string Label, IReadOnlyList<ReportFigure> Figures);
