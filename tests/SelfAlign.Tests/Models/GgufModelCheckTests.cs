using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Models;

/// <summary>What llama.cpp would abort on is refused up front, naming the key; a sound header passes.</summary>
public class GgufModelCheckTests
{
    private static readonly string[] ByteTokens = Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>").ToArray();

    private static GgufFile Header(Action<Dictionary<string, GgufMetadataValue>> change)
    {
        var metadata = new Dictionary<string, GgufMetadataValue>
        {
            ["general.architecture"] = GgufMetadataValue.Of("llama"),
            ["llama.embedding_length"] = GgufMetadataValue.Of(64u),
            ["llama.block_count"] = GgufMetadataValue.Of(2u),
            ["llama.context_length"] = GgufMetadataValue.Of(256u),
            ["llama.attention.head_count"] = GgufMetadataValue.Of(4u),
            ["llama.attention.head_count_kv"] = GgufMetadataValue.Of(2u),
            ["tokenizer.ggml.model"] = GgufMetadataValue.Of("llama"),
            ["tokenizer.ggml.tokens"] = GgufMetadataValue.Of(["<unk>", "<s>", "</s>", .. ByteTokens, "▁hello"]),
            ["tokenizer.ggml.scores"] = GgufMetadataValue.Of(new float[260]),
            ["tokenizer.ggml.add_bos_token"] = GgufMetadataValue.Of(true),
            ["tokenizer.ggml.bos_token_id"] = GgufMetadataValue.Of(1u),
        };
        change(metadata);
        return new GgufFile { Path = "m.gguf", Version = 3, Metadata = metadata, Tensors = [], DataOffset = 0, Alignment = 32 };
    }

    private static void AssertRefused(string expected, Action<Dictionary<string, GgufMetadataValue>> change) =>
        Assert.Contains(expected, Assert.Throws<GgufFormatException>(() => GgufModelCheck.Validate(Header(change))).Message);

    [Fact]
    public void SoundHeaderPasses() => GgufModelCheck.Validate(Header(_ => { }));

    [Fact]
    public void DuplicateTokenIsRefused() => AssertRefused("holds \"▁hello\" twice (ids 259 and 260)",
        m => m["tokenizer.ggml.tokens"] = GgufMetadataValue.Of(["<unk>", "<s>", "</s>", .. ByteTokens, "▁hello", "▁hello"]));

    [Fact]
    public void SentencepieceWithoutAByteTokenIsRefused() => AssertRefused("no token for byte 0xC3",
        m => m["tokenizer.ggml.tokens"] = GgufMetadataValue.Of(["<unk>", "<s>", "</s>", .. ByteTokens.Where(t => t != "<0xC3>"), "▁hello", "x"]));

    [Fact]
    public void AddedBosOutsideTheVocabularyIsRefused() => AssertRefused("tokenizer.ggml.bos_token_id names no token of the 260",
        m => m["tokenizer.ggml.bos_token_id"] = GgufMetadataValue.Of(260u));

    [Fact]
    public void BosThatIsNotAddedMayBeAnything()
    {
        GgufModelCheck.Validate(Header(m => { m["tokenizer.ggml.add_bos_token"] = GgufMetadataValue.Of(false); m["tokenizer.ggml.bos_token_id"] = GgufMetadataValue.Of(99999u); }));
    }

    [Fact]
    public void ShortScoreListIsRefused() => AssertRefused("tokenizer.ggml.scores must be a list of at least 260",
        m => m["tokenizer.ggml.scores"] = GgufMetadataValue.Of(new float[10]));

    [Fact]
    public void ZeroHeadsAreRefused() => AssertRefused("llama.attention.head_count is 0",
        m => m["llama.attention.head_count"] = GgufMetadataValue.Of(0u));

    [Fact]
    public void HeadsThatDoNotDivideTheWidthAreRefused() => AssertRefused("embedding_length 64 is not a multiple of attention.head_count 5",
        m => { m["llama.attention.head_count"] = GgufMetadataValue.Of(5u); m["llama.attention.head_count_kv"] = GgufMetadataValue.Of(5u); });

    [Fact]
    public void KvHeadsThatDoNotDivideTheHeadsAreRefused() => AssertRefused("head_count_kv 3 does not divide attention.head_count 4",
        m => m["llama.attention.head_count_kv"] = GgufMetadataValue.Of(3u));

    [Fact]
    public void ModelWithoutTokenizerIsRefused() => AssertRefused("tokenizer.ggml.model missing", m => m.Remove("tokenizer.ggml.model"));
}
