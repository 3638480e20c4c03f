namespace Mirror.Grains.Upstream;

/// <summary>A parsed <c>WWW-Authenticate</c> challenge (RFC 7235): a scheme and its parameters.</summary>
public sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    /// <summary>A parameter's value, or null.</summary>
    public string? this[string name] => Parameters.TryGetValue(name, out var v) ? v : null;

    /// <summary>
    /// Parses the first challenge of a header value such as
    /// <c>Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"</c>.
    /// Returns null when the value is not a challenge.
    /// </summary>
    public static AuthChallenge? ParseOrNull(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) return null;
        var s = header.AsSpan().Trim();
        var sp = s.IndexOf(' ');
        var scheme = (sp < 0 ? s : s[..sp]).ToString();
        if (scheme.Length == 0 || scheme.Contains('=')) return null;
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var rest = sp < 0 ? ReadOnlySpan<char>.Empty : s[(sp + 1)..];
        var i = 0;
        while (i < rest.Length)
        {
            while (i < rest.Length && (rest[i] == ',' || rest[i] == ' ')) i++;
            var eq = rest[i..].IndexOf('=');
            if (eq <= 0) break;
            var name = rest.Slice(i, eq).Trim().ToString();
            i += eq + 1;
            string value;
            if (i < rest.Length && rest[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                while (i < rest.Length && rest[i] != '"')
                {
                    if (rest[i] == '\\' && i + 1 < rest.Length) i++;
                    sb.Append(rest[i]);
                    i++;
                }
                if (i >= rest.Length) return null; // unterminated quoted string
                i++;
                value = sb.ToString();
            }
            else
            {
                var end = rest[i..].IndexOf(',');
                value = (end < 0 ? rest[i..] : rest.Slice(i, end)).Trim().ToString();
                i = end < 0 ? rest.Length : i + end;
            }
            // A second challenge ("..., Basic realm=x") starts with a token followed by a space: stop there.
            if (name.Contains(' ')) break;
            parameters[name] = value;
        }
        return new AuthChallenge(scheme, parameters);
    }
}
