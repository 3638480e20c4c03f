using System.Globalization;

namespace Mirror.Frontend.Http;

/// <summary>The outcome of reading a <c>Range</c> header against a blob's size.</summary>
public enum RangeOutcome
{
    /// <summary>No (usable) range: answer 200 with the whole body. Multi-range and non-byte units land here (RFC 9110 lets a server ignore them).</summary>
    Whole,
    /// <summary>One satisfiable range: answer 206.</summary>
    Partial,
    /// <summary>Malformed or not satisfiable: answer 416 with <c>Content-Range: bytes */size</c>.</summary>
    NotSatisfiable,
}

/// <summary>A single byte range, inclusive at both ends.</summary>
public readonly record struct ByteRange(RangeOutcome Outcome, long Start, long End)
{
    /// <summary>Bytes in the range.</summary>
    public long Length => End - Start + 1;

    /// <summary>True when the header is syntactically a bytes range that needs the blob's size to resolve.</summary>
    public static bool IsPresent(string? header) => header is not null && header.TrimStart().StartsWith("bytes", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Reads <c>bytes=a-b</c>, <c>bytes=a-</c> and <c>bytes=-n</c> against <paramref name="size"/>. Like the CNCF registry
    /// (Go's ServeContent), a malformed bytes range is answered 416 rather than silently ignored.
    /// </summary>
    public static ByteRange Parse(string? header, long size)
    {
        if (string.IsNullOrWhiteSpace(header)) return new(RangeOutcome.Whole, 0, size - 1);
        var h = header.Trim();
        if (!h.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
            return h.StartsWith("bytes", StringComparison.OrdinalIgnoreCase) ? NotSatisfiable : new(RangeOutcome.Whole, 0, size - 1);
        var spec = h[6..].Trim();
        if (spec.Contains(',')) return new(RangeOutcome.Whole, 0, size - 1);
        var dash = spec.IndexOf('-');
        if (dash < 0) return NotSatisfiable;
        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.Length == 0)
        {
            // Suffix range: the last n bytes.
            if (!TryNumber(last, out var n) || n == 0 || size == 0) return NotSatisfiable;
            return new(RangeOutcome.Partial, Math.Max(0, size - n), size - 1);
        }
        if (!TryNumber(first, out var start)) return NotSatisfiable;
        long end;
        if (last.Length == 0) end = size - 1;
        else if (!TryNumber(last, out end) || end < start) return NotSatisfiable;
        if (start >= size) return NotSatisfiable;
        return new(RangeOutcome.Partial, start, Math.Min(end, size - 1));
    }

    private static ByteRange NotSatisfiable => new(RangeOutcome.NotSatisfiable, 0, -1);

    private static bool TryNumber(string s, out long value) =>
        long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value) && s.Length <= 19;
}
