namespace SelfAlign.Tests;

/// <summary>Small input files the tests write, in the test run's own directory.</summary>
public static class TestFiles
{
    /// <summary>Writes <paramref name="text"/> to <paramref name="name"/> in the <paramref name="folder"/> of this test run; returns its path.</summary>
    public static string Write(string folder, string name, string text)
    {
        var dir = Path.Combine(TestModels.Directory, folder);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
