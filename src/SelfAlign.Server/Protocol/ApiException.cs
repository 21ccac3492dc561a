namespace SelfAlign.Server.Protocol;

/// <summary>A request the server refuses, answered with OpenAI's error shape and this HTTP status.</summary>
public sealed class ApiException(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiException Invalid(string message, string? param = null) => new(422, message, param: param);
}
