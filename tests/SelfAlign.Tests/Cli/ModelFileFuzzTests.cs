using System.Text;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Cli;

/// <summary>
/// Corrupt headers of a model with a real vocabulary (llama's sentencepiece, 32,000 tokens) go through
/// <c>model inspect</c> and <c>generate</c> as separate processes: every run ends with exit 0 or 2, never with a
/// native abort (134) or an internal error (1).
/// </summary>
[Trait("Category", "Slow")]
public class ModelFileFuzzTests
{
    private static readonly Lazy<string> Model = new(() =>
    {
        var path = Path.Combine(TestModels.Directory, "fuzz-base-spm.gguf");
        SyntheticModelBuilder.Write(path, new SyntheticModelBuilder.Options
        {
            Shape = ModelShape.Preset("llama", "tiny"), Seed = 3, VocabularyFrom = RealVocabularies.Get("llama-spm"),
        });
        return path;
    });

    private static string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(TestModels.Directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void AssertCleanEnd(string path, bool expectRefusal, string? expected = null)
    {
        foreach (var args in new[] { new[] { "model", "inspect", path }, ["generate", "-m", path, "-p", "hello wörld ✓", "-n", "2"] })
        {
            var o = CliProcess.Run(args);
            Assert.True(o.ExitCode is 0 or 2, $"{string.Join(' ', args)} ended with {o.ExitCode}: {o.Stderr}");
            if (expectRefusal)
            {
                Assert.Equal(2, o.ExitCode);
                if (expected is not null) Assert.Contains(expected, o.Stderr);
            }
        }
    }

    /// <summary>One flipped bit that turns a token into another token's twin: llama.cpp's loader asserts on it.</summary>
    [Fact]
    public void OneBitThatDuplicatesATokenIsRefused()
    {
        var bytes = File.ReadAllBytes(Model.Value);
        var tokens = (string[])GgufFile.Read(Model.Value).Metadata["tokenizer.ggml.tokens"].Value;
        var known = tokens.ToHashSet(StringComparer.Ordinal);
        var (token, twin) = tokens.Where(t => t.Length > 3 && t.All(char.IsAsciiLetterLower))
            .SelectMany(t => Enumerable.Range(0, t.Length).Select(i => (t, t[..i] + (char)(t[i] ^ 1) + t[(i + 1)..])))
            .First(p => known.Contains(p.Item2));
        var at = IndexOf(bytes, LengthPrefixed(token));
        var mutated = (byte[])bytes.Clone();
        Encoding.UTF8.GetBytes(twin).CopyTo(mutated, at + 8);
        AssertCleanEnd(Write("fuzz-duplicate.gguf", mutated), expectRefusal: true, $"holds \"{twin}\" twice");
    }

    [Fact]
    public void RandomBitFlipsInTheHeaderEndCleanly()
    {
        var bytes = File.ReadAllBytes(Model.Value);
        var headerLength = (int)GgufFile.Read(Model.Value).DataOffset;
        var random = new Random(20261202);
        for (var i = 0; i < 24; i++)
        {
            var mutated = (byte[])bytes.Clone();
            // Most of the header is the vocabulary; half the flips go to its first kilobytes, where the keys,
            // hyper-parameters and tensor directory would be in a model with a smaller vocabulary.
            var at = i % 2 == 0 ? random.Next(8, 4096) : random.Next(8, headerLength);
            mutated[at] ^= (byte)(1 << random.Next(8));
            AssertCleanEnd(Write($"fuzz-{i}.gguf", mutated), expectRefusal: false);
        }
    }

    private static byte[] LengthPrefixed(string s)
    {
        var text = Encoding.UTF8.GetBytes(s);
        return [.. BitConverter.GetBytes((ulong)text.Length), .. text];
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        var at = haystack.AsSpan().IndexOf(needle);
        Assert.True(at >= 0, "token not found in the file");
        return at;
    }
}
