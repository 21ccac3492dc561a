namespace SelfAlign;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the caller's thread, in order. Long work in the library reports
/// through <see cref="IProgress{T}"/> of a record; <see cref="Progress{T}"/> would post each report to the thread pool.
/// </summary>
public sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
