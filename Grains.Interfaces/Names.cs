using System.Text.RegularExpressions;

namespace Mirror.Grains;

/// <summary>The distribution-spec grammar for repository names and tags.</summary>
public static partial class Names
{
    /// <summary>Longest repository name the mirror accepts (the spec's 255, registry host included).</summary>
    public const int MaxRepositoryLength = 255;

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$", RegexOptions.CultureInvariant)]
    private static partial Regex RepositoryRegex();

    [GeneratedRegex(@"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex TagRegex();

    [GeneratedRegex(@"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?$", RegexOptions.CultureInvariant)]
    private static partial Regex RegistryRegex();

    /// <summary>True when <paramref name="name"/> is a valid repository path (without registry host).</summary>
    public static bool IsValidRepository(string name) =>
        name.Length is > 0 and <= MaxRepositoryLength && RepositoryRegex().IsMatch(name);

    /// <summary>True when <paramref name="tag"/> is a valid tag.</summary>
    public static bool IsValidTag(string tag) => TagRegex().IsMatch(tag);

    /// <summary>True when <paramref name="registry"/> looks like a registry host, optionally with a port.</summary>
    public static bool IsValidRegistry(string registry) => registry.Length <= 253 && RegistryRegex().IsMatch(registry);
}
