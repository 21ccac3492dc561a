namespace SelfAlign.Models;

/// <summary>
/// A GGUF metadata value. <see cref="Value"/> holds the CLR value (uint, float, string, bool, ...);
/// for arrays it is a <c>T[]</c> of the element type's CLR type and <see cref="ElementType"/> is set.
/// </summary>
public sealed record GgufMetadataValue(GgufValueType Type, object Value, GgufValueType? ElementType = null)
{
    public static GgufMetadataValue Of(string s) => new(GgufValueType.String, s);
    public static GgufMetadataValue Of(uint v) => new(GgufValueType.UInt32, v);
    public static GgufMetadataValue Of(int v) => new(GgufValueType.Int32, v);
    public static GgufMetadataValue Of(float v) => new(GgufValueType.Float32, v);
    public static GgufMetadataValue Of(bool v) => new(GgufValueType.Bool, v);
    public static GgufMetadataValue Of(string[] v) => new(GgufValueType.Array, v, GgufValueType.String);
    public static GgufMetadataValue Of(float[] v) => new(GgufValueType.Array, v, GgufValueType.Float32);
    public static GgufMetadataValue Of(int[] v) => new(GgufValueType.Array, v, GgufValueType.Int32);

    /// <summary>The value as a 64-bit integer, for any integer type (null otherwise).</summary>
    public long? AsInteger() => Value switch
    {
        byte b => b, sbyte sb => sb, ushort us => us, short s => s, uint u => u, int i => i, ulong ul => (long)ul, long l => l,
        _ => null,
    };

    public override string ToString() => Value switch
    {
        string s => s,
        Array a => $"[{a.Length} × {ElementType}]",
        _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
