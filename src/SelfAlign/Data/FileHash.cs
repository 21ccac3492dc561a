using System.Security.Cryptography;

namespace SelfAlign.Data;

/// <summary>SHA-256 fingerprints that runs record to notice a changed model, data file or setting.</summary>
public static class FileHash
{
    public static string Sha256(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    public static string Sha256Text(string text) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
}
