using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Generation;

/// <summary>
/// The model's own chat template (from its GGUF), applied by <c>llama_chat_apply_template</c>, which knows
/// the common template families (ChatML, Llama 3, Mistral, ...) without running Jinja.
/// </summary>
public sealed class ModelChatTemplate : IChatFormat
{
    private readonly string _template;
    private readonly Vocabulary _vocab;

    /// <exception cref="InvalidOperationException">the model has no chat template.</exception>
    public ModelChatTemplate(LlamaModel model)
    {
        _template = model.ChatTemplate ?? throw new InvalidInputException($"{model.Path} has no chat template; use a turn format instead");
        _vocab = model.Vocabulary;
    }

    /// <summary>The end-of-turn token's text, when the vocabulary has one (generation also stops on it as a token).</summary>
    public IReadOnlyList<string> StopStrings => _vocab.Eot >= 0 ? [_vocab.TokenText(_vocab.Eot)] : [];

    public string Format(IReadOnlyList<ChatTurn> turns, bool addAssistantPrefix = true) =>
        LlamaChatTemplate.Apply(_template, turns.Select(t => (t.Role, t.Content)).ToList(), addAssistantPrefix)
        ?? throw new InvalidInputException("llama.cpp does not recognise this model's chat template; use a turn format instead");
}
