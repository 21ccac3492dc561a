namespace SelfAlign.Native;

/// <summary><c>llama_model_quantize</c>: writes a copy of a GGUF model with its weights in another type.</summary>
internal static unsafe class LlamaQuantizer
{
    /// <summary>Returns llama.cpp's code (0 = written).</summary>
    public static uint Quantize(string input, string output, int fileType, int threads)
    {
        var p = LlamaNative.llama_model_quantize_default_params();
        p.ftype = fileType;
        p.nthread = threads;
        var inBytes = Utf8.NullTerminated(input);
        var outBytes = Utf8.NullTerminated(output);
        fixed (byte* i = inBytes)
        fixed (byte* o = outBytes)
            return LlamaNative.llama_model_quantize(i, o, &p);
    }
}
