using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Security;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Security;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Api;

/// <summary>API keys (admin only): make, list, revoke, rotate; the audit log of admin actions; the dashboard's session.</summary>
internal static class KeysApi
{
    public static WebApplication MapKeysApi(this WebApplication app)
    {
        var keys = app.MapGroup("/api/keys").WithTags("Keys").RequireAuthorization(NodePolicies.Admin);
        keys.MapPost("/", CreateAsync).WithName("CreateKey").WithSummary("Make an API key {role, name?, expires?}; the answer holds the key, shown this once.")
            .Accepts<JsonObject>("application/json");
        keys.MapGet("/", (ApiKeyStore store, TimeProvider time) => TypedResults.Json(new JsonObject
        {
            ["keys"] = new JsonArray([.. store.List().Select(k => (JsonNode)Describe(k, time.GetUtcNow()))]),
        })).WithName("ListKeys").WithSummary("Every key: id, name, role, state, dates; never a secret.");
        keys.MapDelete("/{id}", RevokeAsync).WithName("RevokeKey").WithSummary("Revoke a key made through the API.");
        keys.MapPost("/{id}/rotate", RotateAsync).WithName("RotateKey").WithSummary("Give a key a new secret (shown once); the old one works for one more hour.");
        app.MapPost("/api/session", (HttpContext context, DashboardSessions sessions) =>
        {
            sessions.Start(context, context.User);
            return TypedResults.Json(new JsonObject { ["role"] = NodeClaims.Name(context.User.RoleOf()), ["owner"] = context.User.OwnerOf() });
        }).RequireAuthorization(NodePolicies.Reader).WithTags("Keys").WithName("StartSession")
            .WithSummary("Start a dashboard session for the caller's key: an HttpOnly, SameSite=Strict cookie, so the dashboard sends the key once.");
        keys.MapGet("/audit", (ApiKeyStore store, int? limit) => TypedResults.Ok(new AuditBody(store.Audit(Math.Clamp(limit ?? 100, 1, 1000)))))
            .WithName("AuditLog").WithSummary("The newest admin actions: when, by which key, what, from where, and the status they got.");
        return app;
    }

    private static async Task<IResult> CreateAsync(HttpContext context, ApiKeyStore store, TimeProvider time)
    {
        var (node, malformed) = await JsonBody.ReadAsync(context, """{"role":"submitter","name":"ci","expires":"30d"}""");
        if (malformed is not null)
        {
            return malformed;
        }

        if (node is not JsonObject body)
        {
            return HttpSetup.Problem(400, "Not a key request", """The body must be one JSON object such as {"role":"submitter","name":"ci","expires":"30d"}.""");
        }

        var role = body["role"] is JsonValue r && r.TryGetValue<string>(out var text) ? text.ToLowerInvariant() : null;
        if (role is null || !NodeSettings.Roles.Contains(role))
        {
            return HttpSetup.Problem(400, "Bad role", "'role' must be reader, submitter or admin.");
        }

        string? name = null;
        if (body["name"] is { } nameNode)
        {
            if (nameNode is not JsonValue n || !n.TryGetValue(out name) || name.Length is 0 or > 100)
            {
                return HttpSetup.Problem(400, "Bad name", "'name' must be a string of 1 to 100 characters.");
            }
        }

        TimeSpan? expires = null;
        if (body["expires"] is { } expiresNode)
        {
            if (expiresNode is not JsonValue e || !e.TryGetValue<string>(out var expiresText) || !TryParseLifetime(expiresText, out var lifetime))
            {
                return HttpSetup.Problem(400, "Bad expiry", "'expires' must be a lifetime such as 30d, 12h or 90m (at most 3650d).");
            }

            expires = lifetime;
        }

        var (record, key) = await store.CreateAsync(role, name, expires);
        var answer = Describe(record, time.GetUtcNow());
        answer["key"] = key;
        return TypedResults.Json(answer, statusCode: 201);
    }

    private static async Task<IResult> RevokeAsync(string id, ApiKeyStore store, TimeProvider time)
    {
        try
        {
            return await store.RevokeAsync(id) is { } revoked ? TypedResults.Json(Describe(revoked, time.GetUtcNow())) : UnknownKey(id);
        }
        catch (InvalidOperationException e)
        {
            return HttpSetup.Problem(409, "Key from the configuration", e.Message);
        }
    }

    private static async Task<IResult> RotateAsync(string id, ApiKeyStore store, TimeProvider time)
    {
        try
        {
            if (await store.RotateAsync(id) is not { } rotated)
            {
                return UnknownKey(id);
            }

            var answer = Describe(rotated.Record, time.GetUtcNow());
            answer["key"] = rotated.Key;
            return TypedResults.Json(answer);
        }
        catch (InvalidOperationException e)
        {
            return HttpSetup.Problem(409, "Key cannot be rotated", e.Message);
        }
    }

    private static IResult UnknownKey(string id) =>
        HttpSetup.Problem(404, "Key not found", $"No API key with id '{id}'. List the keys with GET /api/keys (tenzro-node keys list).");

    private static JsonObject Describe(ApiKeyRecord key, DateTimeOffset now) => new()
    {
        ["id"] = key.Id,
        ["name"] = key.Name,
        ["role"] = key.Role,
        ["state"] = key.RevokedAt is not null ? "revoked" : key.ExpiresAt <= now ? "expired" : "active",
        ["source"] = key.Source,
        ["createdAt"] = Timestamps.FormatPrecise(key.CreatedAt),
        ["expiresAt"] = key.ExpiresAt is { } e ? Timestamps.FormatPrecise(e) : null,
        ["revokedAt"] = key.RevokedAt is { } r ? Timestamps.FormatPrecise(r) : null,
        ["previousSecretUntil"] = key.PreviousUntil is { } p && p > now ? Timestamps.FormatPrecise(p) : null,
    };

    /// <summary>Parses "30d", "12h" or "90m".</summary>
    public static bool TryParseLifetime(string text, out TimeSpan lifetime)
    {
        lifetime = default;
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count) || count < 1)
        {
            return false;
        }

        lifetime = char.ToLowerInvariant(text[^1]) switch
        {
            'd' => TimeSpan.FromDays(count),
            'h' => TimeSpan.FromHours(count),
            'm' => TimeSpan.FromMinutes(count),
            _ => TimeSpan.Zero,
        };
        return lifetime > TimeSpan.Zero && lifetime <= TimeSpan.FromDays(3650);
    }
}
