using System.Diagnostics.CodeAnalysis;

namespace Mirror.Grains;

/// <summary>A content digest of the form <c>algorithm:hex</c>; only <c>sha256</c> and <c>sha512</c> are accepted.</summary>
public readonly record struct Digest
{
    private Digest(string algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    /// <summary>The algorithm, <c>sha256</c> or <c>sha512</c>.</summary>
    public string Algorithm { get; }

    /// <summary>The lowercase hex encoding of the hash.</summary>
    public string Hex { get; }

    /// <summary>Parses a digest or returns false when the text is not a valid, supported digest.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Digest? digest)
    {
        digest = null;
        if (string.IsNullOrEmpty(text)) return false;
        var colon = text.IndexOf(':');
        if (colon <= 0) return false;
        var algorithm = text[..colon];
        var hex = text[(colon + 1)..];
        var expected = algorithm switch { "sha256" => 64, "sha512" => 128, _ => -1 };
        if (expected < 0 || hex.Length != expected) return false;
        foreach (var c in hex)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f'))) return false;
        }
        digest = new Digest(algorithm, hex);
        return true;
    }

    /// <summary>Parses a digest or throws <see cref="FormatException"/>.</summary>
    public static Digest Parse(string text) =>
        TryParse(text, out var d) ? d.Value : throw new FormatException($"'{text}' is not a valid digest.");

    /// <summary>Computes the SHA-256 digest of the given bytes.</summary>
    public static Digest Sha256Of(ReadOnlySpan<byte> content) =>
        new("sha256", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content)));

    /// <summary>The digest of <paramref name="content"/> with <paramref name="algorithm"/> (<c>sha256</c> or <c>sha512</c>).</summary>
    public static Digest Of(string algorithm, ReadOnlySpan<byte> content) => algorithm switch
    {
        "sha256" => Sha256Of(content),
        "sha512" => new("sha512", Convert.ToHexStringLower(System.Security.Cryptography.SHA512.HashData(content))),
        _ => throw new ArgumentException($"unsupported digest algorithm '{algorithm}'", nameof(algorithm)),
    };

    /// <summary>Builds a digest from an algorithm and raw hash bytes.</summary>
    public static Digest FromHash(string algorithm, ReadOnlySpan<byte> hash) => new(algorithm, Convert.ToHexStringLower(hash));

    /// <inheritdoc />
    public override string ToString() => $"{Algorithm}:{Hex}";
}
