namespace SelfAlign;

/// <summary>
/// Bad input, not a bug: a missing or corrupt file, an invalid option or setting, a prompt that does not fit the
/// context. The message is one line that names the problem and what to change. Surfaces report it as such (the
/// command: exit code 2); any other exception escaping the library is a bug.
/// </summary>
public class InvalidInputException(string message, Exception? innerException = null) : Exception(message, innerException);
