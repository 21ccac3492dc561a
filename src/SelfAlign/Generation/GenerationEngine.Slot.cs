using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using SelfAlign.Models;

namespace SelfAlign.Generation;

public sealed partial class GenerationEngine
{
    /// <summary>One running request: its KV sequence, the tokens still to feed, and the text so far.</summary>
    private sealed class Slot(
        GenerationRequest request, int[] prefixTokens, int[] suffixTokens, ChannelWriter<GenerationUpdate>? stream, Vocabulary vocab,
        CancellationToken cancellation)
    {
        private readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();
        private readonly StringBuilder _text = new();
        private readonly StopStringMatcher _stops = new(request.StopStrings);
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private char[] _chars = new char[64];
        private int _streamed;
        private int _logProbabilitiesStreamed;
        private string? _stopString;

        public GenerationRequest Request { get; } = request;
        public int[] PrefixTokens { get; } = prefixTokens;
        public int[] SuffixTokens { get; } = suffixTokens;
        public CancellationToken Cancellation { get; } = cancellation;
        public TaskCompletionSource<GenerationResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TokenSampler Sampler { get; } = new(request.Sampling);
        public List<int> Generated { get; } = [];
        public List<TokenLogProbability>? LogProbabilities { get; } = request.LogProbabilities is null ? null : [];
        public List<PromptToken>? PromptLogProbabilities { get; private set; }
        /// <summary>Each prompt token but the last wants logits too: the request asked for the prompt's log-probabilities.</summary>
        public bool ScoresPrompt => PromptLogProbabilities != null && Generated.Count == 0;
        public int Sequence { get; set; } = -1;
        public int ReservedCells { get; set; }
        public PrefixEntry? Prefix { get; set; }
        /// <summary>Tokens to evaluate before the next sample; <see cref="PendingOffset"/> of them are in the cache.</summary>
        public int[] Pending { get; private set; } = [];
        public int PendingOffset { get; set; }
        public int Position { get; set; }
        public bool IsFinished => Completion.Task.IsCompleted;

        public void StartFromScratch()
        {
            Pending = [.. PrefixTokens, .. SuffixTokens];
            Position = 0;
            if (Request.PromptLogProbabilities) PromptLogProbabilities = [new PromptToken(Pending[0], null)];
        }

        /// <summary>Shares the prefix's cells; when the suffix is empty the last prefix token is re-fed for its logits.</summary>
        public void StartFromPrefix(LlamaContext ctx, PrefixEntry prefix)
        {
            var shared = SuffixTokens.Length > 0 ? PrefixTokens.Length : PrefixTokens.Length - 1;
            ctx.CopySequence(prefix.Sequence, Sequence, 0, shared);
            Pending = SuffixTokens.Length > 0 ? SuffixTokens : [PrefixTokens[^1]];
            Position = shared;
        }

        /// <summary>Records the log-probability of the prompt token that follows the one just evaluated.</summary>
        public void AcceptPromptToken(TokenLogProbability next) => PromptLogProbabilities!.Add(new PromptToken(next.Token, next));

        /// <summary>The prompt is evaluated and nothing is to be generated (a scoring request).</summary>
        public void FinishPrompt() => Finish(FinishReason.Length);

        public void Accept(int token, TokenLogProbability? logProbability)
        {
            if (Request.StopAtEndOfGeneration && vocab.IsEndOfGeneration(token)) { Finish(FinishReason.EndOfGeneration); return; }
            Generated.Add(token);
            if (logProbability != null) LogProbabilities!.Add(logProbability);
            var before = _text.Length;
            AppendBytes(vocab.TokenBytes(token), flush: false);

            // The text is materialised once per token, and only when a stop string or a stream needs it.
            var text = Request.StopStrings.Count > 0 || stream != null ? _text.ToString() : null;
            if (Request.StopStrings.Count > 0 && _stops.FindStop(text!, before) is var stop and >= 0)
            {
                _stopString = Request.StopStrings.First(s => text.AsSpan(stop).StartsWith(s, StringComparison.Ordinal));
                _text.Length = stop;
                Finish(FinishReason.StopString);
                return;
            }
            if (Generated.Count >= Request.MaxNewTokens) { Finish(FinishReason.Length); return; }
            if (stream != null)
            {
                var safe = _stops.SafeLength(text!);
                if (safe > _streamed) { stream.TryWrite(new GenerationUpdate(text![_streamed..safe], token) { LogProbabilities = UnstreamedLogProbabilities() }); _streamed = safe; }
            }
            Pending = [token];
            PendingOffset = 0;
        }

        private void AppendBytes(ReadOnlySpan<byte> bytes, bool flush)
        {
            // some BPE tokens are long runs (of spaces, dashes, code): room for any token plus the decoder's carried-over bytes
            if (Encoding.UTF8.GetMaxCharCount(bytes.Length) > _chars.Length) _chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
            var chars = _utf8.GetChars(bytes, _chars, flush);
            _text.Append(_chars, 0, chars);
        }

        private void Finish(FinishReason reason)
        {
            if (reason != FinishReason.StopString) AppendBytes([], flush: true);
            var text = _text.ToString();
            var result = new GenerationResult(text, Generated.ToArray(), reason, PrefixTokens.Length + SuffixTokens.Length, _clock.Elapsed)
            {
                StopString = _stopString, LogProbabilities = LogProbabilities?.ToArray(), PromptLogProbabilities = PromptLogProbabilities?.ToArray(),
            };
            if (stream != null)
            {
                stream.TryWrite(new GenerationUpdate(text[_streamed..], Generated.Count > 0 ? Generated[^1] : -1)
                {
                    LogProbabilities = UnstreamedLogProbabilities(), Result = result,
                });
                stream.TryComplete();
            }
            Completion.TrySetResult(result);
        }

        private TokenLogProbability[] UnstreamedLogProbabilities()
        {
            if (LogProbabilities is null) return [];
            var fresh = LogProbabilities.GetRange(_logProbabilitiesStreamed, LogProbabilities.Count - _logProbabilitiesStreamed).ToArray();
            _logProbabilitiesStreamed = LogProbabilities.Count;
            return fresh;
        }

        public void Cancel()
        {
            stream?.TryComplete(new OperationCanceledException(Cancellation));
            Completion.TrySetCanceled(Cancellation);
        }

        public void Fail(Exception e)
        {
            stream?.TryComplete(e);
            Completion.TrySetException(e);
        }
    }
}
