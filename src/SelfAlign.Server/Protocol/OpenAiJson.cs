using System.Text.Json;
using System.Text.Unicode;
using System.Text.Json.Serialization;

namespace SelfAlign.Server.Protocol;

/// <summary>How request and response bodies map to JSON: OpenAI's snake_case names; requests refuse fields the server
/// does not know, so a misspelt option is an error rather than silently ignored.</summary>
internal static class OpenAiJson
{
    public static readonly JsonSerializerOptions Requests = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
    };

    public static readonly JsonSerializerOptions Responses = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Reads a request body; malformed JSON, invalid UTF-8, unknown fields and wrong types are a 400 naming the problem.</summary>
    public static T Parse<T>(ReadOnlySpan<byte> body) where T : class
    {
        if (!Utf8.IsValid(body)) throw new ApiException(400, "the request body is not valid UTF-8");
        try
        {
            return JsonSerializer.Deserialize<T>(body, Requests) ?? throw new ApiException(400, "the request body is JSON null, not an object");
        }
        catch (JsonException e)
        {
            var field = e.Path?.Split('.')[^1];
            throw new ApiException(400, e.Message.Contains("could not be mapped", StringComparison.Ordinal)
                ? $"unknown field '{field}' (at {e.Path})"
                : $"the request body is not a valid request: {e.Message}", param: e.Path);
        }
    }

    public static object Error(ApiException e) => new { error = new { message = e.Message, type = e.Type, param = e.Param, code = e.Code } };
}
