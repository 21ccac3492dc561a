using System.CommandLine;
using SelfAlign.Models;
using SelfAlign.Remote;

namespace SelfAlign.Cli.Commands;

/// <summary>
/// <c>--backend-url URL --backend-model NAME</c> (or with another prefix, e.g. <c>--judge-backend-url</c>): run on a model
/// served by an OpenAI-compatible server instead of in process; a local GGUF of the same model gives the vocabulary.
/// </summary>
internal sealed class BackendOption
{
    private readonly string _prefix;

    public BackendOption(string prefix, string what)
    {
        _prefix = prefix;
        Url = new Option<string?>($"--{prefix}-url")
        {
            Description = $"{what} on an OpenAI-compatible server (its /v1 root) that echoes prompt log-probabilities (vLLM, selfalign serve)",
        };
        Model = new Option<string?>($"--{prefix}-model") { Description = "The model's name on that server" };
    }

    public Option<string?> Url { get; }
    public Option<string?> Model { get; }

    public void AddTo(Command command)
    {
        command.Options.Add(Url);
        command.Options.Add(Model);
    }

    /// <summary>Whether a server was named; a model name without its URL is refused.</summary>
    public bool IsSet(ParseResult p) =>
        p.GetValue(Url) is not null || (p.GetValue(Model) is null ? false : throw new InvalidInputException($"--{_prefix}-model needs --{_prefix}-url"));

    /// <summary>The backend named on the command line, or null when none is; <paramref name="vocabulary"/> must be the served model's.</summary>
    public OpenAiBackend? Open(ParseResult p, Vocabulary vocabulary)
    {
        if (!IsSet(p)) return null;
        var url = p.GetValue(Url)!;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var root)) throw new InvalidInputException($"--{_prefix}-url '{url}' is not a URL");
        var served = p.GetValue(Model) ?? throw new InvalidInputException($"--{_prefix}-url needs --{_prefix}-model");
        return new OpenAiBackend(new OpenAiBackendOptions { BaseUrl = root, Model = served }, vocabulary);
    }

    /// <summary>How the run records which served model answered: its name and URL.</summary>
    public string Describe(ParseResult p) => $"{p.GetValue(Model)} at {p.GetValue(Url)}";
}
