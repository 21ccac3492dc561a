using Sylvan.Data.Csv;

namespace SelfAlign.Evaluation;

/// <summary>A CSV file with a header row (RFC 4180 quoting, fields across lines), read with Sylvan.Data.Csv; errors name the file and row.</summary>
internal static class CsvTable
{
    /// <summary>One data row: its line (the header is line 1) and its fields by column name.</summary>
    public sealed record Row(string Path, int Number, IReadOnlyDictionary<string, string> Fields)
    {
        public string Get(string column) => Fields.GetValueOrDefault(column, "");

        public string Require(string column) =>
            Get(column) is { Length: > 0 } value ? value : throw new InvalidInputException($"{Path}:{Number}: empty \"{column}\"");
    }

    /// <param name="columns">columns the file must have.</param>
    public static List<Row> Read(string path, IReadOnlyList<string> columns)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"file not found: {path}");
        var rows = new List<Row>();
        try
        {
            using var csv = CsvDataReader.Create(path, new CsvDataReaderOptions { HasHeaders = true });
            var header = Enumerable.Range(0, csv.FieldCount).Select(csv.GetName).ToList();
            var missing = columns.Where(c => !header.Contains(c)).ToList();
            if (missing.Count > 0) throw new InvalidInputException($"{path}:1: missing column(s) {string.Join(", ", missing.Select(m => $"\"{m}\""))}");
            while (csv.Read())
            {
                var number = csv.RowNumber + 1; // the header is line 1 (exact while no quoted field spans lines)
                if (csv.RowFieldCount != header.Count) throw new InvalidInputException($"{path}:{number}: {csv.RowFieldCount} fields, the header has {header.Count}");
                var fields = new Dictionary<string, string>();
                for (var i = 0; i < header.Count; i++) fields.TryAdd(header[i], csv.GetString(i));
                rows.Add(new Row(path, number, fields));
            }
        }
        catch (CsvMissingHeadersException) { throw new InvalidInputException($"{path}: empty file (expected a header row)"); }
        catch (CsvFormatException e) { throw new InvalidInputException($"{path}:{e.RowNumber + 1}: malformed CSV ({e.Message.Split('.')[0]})"); }
        return rows;
    }
}
