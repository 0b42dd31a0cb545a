using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Mvc;
using Tenzro.Node.Api;
using Tenzro.Node.Hosting;

namespace Tenzro.Node.Security;

/// <summary>The policies of the route table: one per role, each met by that role and every role above it.</summary>
internal static class NodePolicies
{
    public const string Reader = "reader";
    public const string Submitter = "submitter";
    public const string Admin = "admin";

    public static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(Reader, p => p.AddRequirements(new RoleRequirement(NodeRole.Reader)));
        options.AddPolicy(Submitter, p => p.AddRequirements(new RoleRequirement(NodeRole.Submitter)));
        options.AddPolicy(Admin, p => p.AddRequirements(new RoleRequirement(NodeRole.Admin)));

        // Every endpoint not marked otherwise (AllowAnonymous, or a higher role) needs at least reader.
        options.FallbackPolicy = options.GetPolicy(Reader);
    }
}

/// <summary>Met by a caller whose role is <see cref="Minimum"/> or above.</summary>
internal sealed class RoleRequirement(NodeRole minimum) : AuthorizationHandler<RoleRequirement>, IAuthorizationRequirement
{
    public NodeRole Minimum { get; } = minimum;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RoleRequirement requirement)
    {
        if (context.User.RoleOf() >= requirement.Minimum)
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Answers a refused request with problem+json a person can act on (401: who are you; 403: your role is too
/// low), logs it as a security event and counts it.
/// </summary>
internal sealed class ProblemAuthorizationResultHandler(SecurityEvents security) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            await _default.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        var needed = policy.Requirements.OfType<RoleRequirement>().Select(r => r.Minimum).DefaultIfEmpty(NodeRole.Reader).Max();
        var action = $"{context.Request.Method} {context.Request.Path}";
        var authentication = await context.AuthenticateAsync(NodeAuthentication.SchemeName);
        ProblemDetails problem;
        if (authorizeResult.Challenged || context.User.Identity?.IsAuthenticated != true)
        {
            var detail = authentication.Failure?.Message
                ?? $"{action} needs the {NodeClaims.Name(needed)} role: send 'Authorization: Bearer tnz_<id>_<secret>' with an API key (make one with 'tenzro-node keys create --role {NodeClaims.Name(needed)}' on the node's machine).";
            problem = new ProblemDetails { Status = 401, Title = "Authentication required", Detail = detail };
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        else
        {
            var role = context.User.RoleOf();
            var hint = context.User.ViaOf() == CallerVia.Loopback
                ? " On the node's own machine the CLI is admin through DATA_DIR/admin.token (tenzro-node reads it)."
                : string.Empty;
            problem = new ProblemDetails
            {
                Status = 403,
                Title = "Role too low",
                Detail = $"{action} needs the {NodeClaims.Name(needed)} role; this caller is {NodeClaims.Name(role)}.{hint}",
            };
        }

        security.Refused(problem.Status!.Value, problem.Title!, Caller.Describe(context), action);
        await HttpSetup.WriteProblemAsync(context, problem);
    }
}
