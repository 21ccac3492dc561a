namespace SelfAlign.Remote;

/// <summary>The remote engine did not answer, or kept failing, after the bounded retries; results written so far are kept.</summary>
public sealed class BackendUnavailableException(string message, Exception? inner = null) : InvalidInputException(message, inner);
