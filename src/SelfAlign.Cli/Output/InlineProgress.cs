using SelfAlign.Pipeline;

namespace SelfAlign.Cli.Output;

/// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and reorder updates).</summary>
internal sealed class InlineProgress(Action<AlignProgress> report) : IProgress<AlignProgress>
{
    public void Report(AlignProgress value) => report(value);
}
