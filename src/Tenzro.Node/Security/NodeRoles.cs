using System.Security.Claims;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Security;

/// <summary>The roles of CONTRACTS.md "Access control", each with everything of the ones below it.</summary>
internal enum NodeRole
{
    Anonymous = 0,
    Reader = 1,
    Submitter = 2,
    Admin = 3,
}

/// <summary>How the caller proved who it is: the claim <see cref="NodeClaims.Via"/>.</summary>
internal static class CallerVia
{
    /// <summary>An API key (<c>tnz_&lt;id&gt;_&lt;secret&gt;</c>).</summary>
    public const string Key = "key";

    /// <summary>The bearer of DATA_DIR/admin.token, from loopback.</summary>
    public const string AdminToken = "admin-token";

    /// <summary>A keyless request from loopback.</summary>
    public const string Loopback = "loopback";

    /// <summary>The dashboard's session cookie.</summary>
    public const string Session = "session";
}

/// <summary>The claims the node's authentication scheme issues, and how to read them back.</summary>
internal static class NodeClaims
{
    public const string Role = "tenzro:role";
    public const string Owner = "tenzro:owner";
    public const string Via = "tenzro:via";
    public const string KeyId = "tenzro:key";

    public static ClaimsPrincipal Principal(NodeRole role, string owner, string via, string? keyId)
    {
        var claims = new List<Claim> { new(Role, Name(role)), new(Owner, owner), new(Via, via) };
        if (keyId is not null)
        {
            claims.Add(new Claim(KeyId, keyId));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, NodeAuthentication.SchemeName, Owner, Role));
    }

    public static NodeRole RoleOf(this ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true && Parse(user.FindFirst(Role)?.Value) is { } role ? role : NodeRole.Anonymous;

    /// <summary>The owner tasks submitted by this caller get: the key id, <c>anonymous-loopback</c> or <c>admin-token</c>.</summary>
    public static string? OwnerOf(this ClaimsPrincipal user) => user.FindFirst(Owner)?.Value;

    public static string? ViaOf(this ClaimsPrincipal user) => user.FindFirst(Via)?.Value;

    /// <summary>Whether the caller may see the data, result, events and blobs of a task of <paramref name="owner"/>.</summary>
    public static bool MayReadTaskOf(this ClaimsPrincipal user, string owner)
    {
        if (user.RoleOf() == NodeRole.Admin)
        {
            return true;
        }

        if (user.RoleOf() < NodeRole.Submitter)
        {
            return false;
        }

        return user.OwnerOf() == owner
            || (user.OwnerOf() == TaskOwners.AnonymousLoopback && owner is TaskOwners.Regional or TaskOwners.Group);
    }

    /// <summary>The owners whose tasks the caller may read (for blobs); null for every owner (admin).</summary>
    public static IReadOnlyCollection<string>? ReadableOwners(this ClaimsPrincipal user) =>
        user.RoleOf() == NodeRole.Admin ? null
        : user.OwnerOf() is not { } owner ? []
        : owner == TaskOwners.AnonymousLoopback ? [owner, TaskOwners.Regional, TaskOwners.Group]
        : [owner];

    public static string Name(NodeRole role) => role.ToString().ToLowerInvariant();

    public static NodeRole? Parse(string? name) => name switch
    {
        "reader" => NodeRole.Reader,
        "submitter" => NodeRole.Submitter,
        "admin" => NodeRole.Admin,
        _ => null,
    };
}
