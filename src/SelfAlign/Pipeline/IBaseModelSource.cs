namespace SelfAlign.Pipeline;

/// <summary>What a source reports while it makes a model: which step, how far, and a detail such as the loss.</summary>
public sealed record ModelPreparation(string What, int Done, int Total, string Detail);

/// <summary>
/// Names a run config may give as its base model besides a GGUF path (the testbed's "testbed:clean", say), and how to
/// get each one's file. Passed in through <see cref="AlignRunOptions.BaseModels"/>: the pipeline knows no such name itself.
/// </summary>
public interface IBaseModelSource
{
    bool Knows(string name);

    /// <summary>The GGUF path of a known name, made first if need be.</summary>
    string Resolve(string name, IProgress<ModelPreparation>? progress, CancellationToken cancellationToken);
}
