"""The REST API: routes to the handlers, authorization on every method, throttling, access logs."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk.functions_construct import FunctionsConstruct
from cdk.nag import suppress
from cdk.settings import InstallOptions
from core.records import JOB_ID_PATTERN, PROJECT_ID_PATTERN
from core.requests import (
    DRIFT_SCHEDULE_PATTERN,
    MAX_CODE_BYTES,
    MAX_POLICY_BYTES,
    MAX_REQUEST_BYTES,
    DeployRequest,
    OverrideRequest,
    PolicyDryRunRequest,
    PolicyRequest,
    SubscriptionRequest,
)
from functions.handlers.routing import ROUTES

BAD_BODY_TEMPLATE = '{"error": "bad_request", "message": "$context.error.validationErrorString"}'
_PROJECT_ID = apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern=PROJECT_ID_PATTERN)
# The code a deploy or a plan takes (core/requests.py CodeRequest).
_CODE = {
    "projectId": _PROJECT_ID,
    "iacCode": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, max_length=MAX_CODE_BYTES),
    "files": apigw.JsonSchema(type=apigw.JsonSchemaType.OBJECT),
    "variables": apigw.JsonSchema(type=apigw.JsonSchemaType.OBJECT),
}
_REQUEST_FIELDS = DeployRequest.model_json_schema()["properties"]
# How a deploy or a destroy runs (DeployRequest, DestroyRequest): the gate and the queue, with the
# choices the request models give.
_RUN_OPTIONS = {
    "approval": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, enum=_REQUEST_FIELDS["approval"]["enum"]),
    "whenBusy": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, enum=_REQUEST_FIELDS["whenBusy"]["enum"]),
    "supersede": apigw.JsonSchema(type=apigw.JsonSchemaType.BOOLEAN),
    # Lets deletes a destroy-protection policy guards go ahead (after a second person approves).
    "allowDestroy": apigw.JsonSchema(type=apigw.JsonSchemaType.BOOLEAN),
}
_POLICY_FIELDS = PolicyRequest.model_json_schema()["properties"]
_DRY_RUN_FIELDS = PolicyDryRunRequest.model_json_schema()["properties"]
_REASON = OverrideRequest.model_json_schema()["properties"]["reason"]
_SUBSCRIPTION_FIELDS = SubscriptionRequest.model_json_schema()["properties"]
# A policy's body (core/requests.py PolicyRequest): its level, a Rego module of its own or a
# built-in's settings (free-form: each built-in checks its own), and the project it applies to.
_POLICY = {
    "level": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, enum=_POLICY_FIELDS["level"]["enum"]),
    "rego": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, max_length=MAX_POLICY_BYTES),
    "syntax": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, enum=_POLICY_FIELDS["syntax"]["enum"]),
    "settings": apigw.JsonSchema(type=apigw.JsonSchemaType.OBJECT),
}


def _body(
    title: str, properties: dict[str, apigw.JsonSchema], required: tuple[str, ...] = ("projectId",)
) -> apigw.JsonSchema:
    return apigw.JsonSchema(
        schema=apigw.JsonSchemaVersion.DRAFT4,
        title=title,
        type=apigw.JsonSchemaType.OBJECT,
        required=list(required),
        additional_properties=False,
        properties=properties,
    )


# Request bodies the gateway checks before a handler runs. The code limit is in characters, which
# are never more than its UTF-8 bytes: the handlers' byte limit stays the stricter one.
MODELS = {
    "DeployRequest": _body("DeployRequest", {**_CODE, **_RUN_OPTIONS}),
    "DestroyRequest": _body("DestroyRequest", {"projectId": _PROJECT_ID, **_RUN_OPTIONS}),
    "PlanRequest": _body("PlanRequest", dict(_CODE)),
    "ProjectSettingsRequest": _body(
        "ProjectSettingsRequest",
        {
            "approval": _RUN_OPTIONS["approval"],
            "driftSchedule": apigw.JsonSchema(
                type=apigw.JsonSchemaType.STRING, pattern=DRIFT_SCHEDULE_PATTERN, max_length=40
            ),
        },
        required=(),
    ),
    "RemediateRequest": _body(
        "RemediateRequest",
        {
            "mode": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, enum=["plan", "apply"]),
            "approval": _RUN_OPTIONS["approval"],
            "whenBusy": _RUN_OPTIONS["whenBusy"],
            "allowDestroy": _RUN_OPTIONS["allowDestroy"],
        },
        required=("mode",),
    ),
    "OverrideRequest": _body(
        "OverrideRequest",
        {
            "reason": apigw.JsonSchema(
                type=apigw.JsonSchemaType.STRING,
                min_length=_REASON["minLength"],
                max_length=_REASON["maxLength"],
            )
        },
        required=("reason",),
    ),
    "RestoreRequest": _body(
        "RestoreRequest",
        {
            "bundle": apigw.JsonSchema(type=apigw.JsonSchemaType.OBJECT),
            "passphrase": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=12, max_length=1024),
        },
        required=("bundle",),
    ),
    "RollbackRequest": _body(
        "RollbackRequest",
        {
            "serial": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=0),
            "reason": apigw.JsonSchema(
                type=apigw.JsonSchemaType.STRING,
                min_length=_REASON["minLength"],
                max_length=_REASON["maxLength"],
            ),
        },
        required=("serial", "reason"),
    ),
    "PolicyRequest": _body(
        "PolicyRequest",
        {
            **_POLICY,
            "projectId": _PROJECT_ID,
            "description": apigw.JsonSchema(
                type=apigw.JsonSchemaType.STRING, max_length=_POLICY_FIELDS["description"]["maxLength"]
            ),
        },
        required=("level",),
    ),
    "PolicyDryRunRequest": _body(
        "PolicyDryRunRequest",
        {
            **_POLICY,
            "planJobId": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern=JOB_ID_PATTERN),
            "name": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
            "version": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1),
            "scope": apigw.JsonSchema(
                type=apigw.JsonSchemaType.STRING, enum=_DRY_RUN_FIELDS["scope"]["enum"]
            ),
            "caller": apigw.JsonSchema(
                type=apigw.JsonSchemaType.STRING, max_length=_DRY_RUN_FIELDS["caller"]["maxLength"]
            ),
        },
        required=("planJobId",),
    ),
    "SubscriptionRequest": _body(
        "SubscriptionRequest",
        {
            "url": apigw.JsonSchema(
                type=apigw.JsonSchemaType.STRING,
                min_length=_SUBSCRIPTION_FIELDS["url"]["minLength"],
                max_length=_SUBSCRIPTION_FIELDS["url"]["maxLength"],
            ),
            "events": apigw.JsonSchema(
                type=apigw.JsonSchemaType.ARRAY,
                min_items=1,
                max_items=_SUBSCRIPTION_FIELDS["events"]["maxItems"],
                items=apigw.JsonSchema(
                    type=apigw.JsonSchemaType.STRING, enum=_SUBSCRIPTION_FIELDS["events"]["items"]["enum"]
                ),
            ),
            "projectId": _PROJECT_ID,
            "description": apigw.JsonSchema(
                type=apigw.JsonSchemaType.STRING,
                max_length=_SUBSCRIPTION_FIELDS["description"]["maxLength"],
            ),
        },
        required=("url", "events"),
    ),
}


class ApiConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        functions: FunctionsConstruct,
        options: InstallOptions,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.user_pool: cognito.UserPool | None = None
        self.user_pool_client: cognito.UserPoolClient | None = None
        self.api_key: apigw.IApiKey | None = None
        method_options = self._method_options(options)

        self.api = apigw.RestApi(
            self,
            "Api",
            description="Terraform provisioner: deploy, follow, inspect and destroy terraform projects",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            default_method_options=method_options,
            deploy_options=apigw.StageOptions(
                stage_name=options.stage_name,
                throttling_rate_limit=options.throttle_rate_limit,
                throttling_burst_limit=options.throttle_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Bodies carry terraform code and variables: never copied into execution logs.
                data_trace_enabled=False,
            ),
        )
        self._gateway_responses()
        validator = self.api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        models = {
            name: self.api.add_model(
                name,
                content_type="application/json",
                model_name=name,
                schema=schema,
            )
            for name, schema in MODELS.items()
        }
        integrations: dict[str, apigw.LambdaIntegration] = {}
        # The handlers' own route table: the gateway routes exactly what local mode serves.
        for route in ROUTES:
            name = route.handler.removesuffix("_handler")
            function: lambda_.IFunction = getattr(functions, name)
            integration = integrations.setdefault(
                name, apigw.LambdaIntegration(function, allow_test_invoke=False)
            )
            resource = self.api.root.resource_for_path(route.path)
            model = route.body_model
            resource.add_method(
                route.method,
                integration,
                request_validator=validator if model else None,
                request_models={"application/json": models[model]} if model else None,
            )
        if options.auth_mode == "apikey":
            self._api_key_plan(options)
        self._suppressions(options)

    def _method_options(self, options: InstallOptions) -> apigw.MethodOptions:
        if options.auth_mode == "cognito":
            self.user_pool = cognito.UserPool(
                self,
                "Users",
                self_sign_up_enabled=False,
                sign_in_aliases=cognito.SignInAliases(email=True),
                mfa=cognito.Mfa.REQUIRED,
                mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
                password_policy=cognito.PasswordPolicy(
                    min_length=14,
                    require_digits=True,
                    require_lowercase=True,
                    require_uppercase=True,
                    require_symbols=True,
                    temp_password_validity=Duration.days(3),
                ),
                account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.user_pool_client = self.user_pool.add_client(
                "CliClient",
                auth_flows=cognito.AuthFlow(user_srp=True),
                generate_secret=False,
                prevent_user_existence_errors=True,
            )
            authorizer = apigw.CognitoUserPoolsAuthorizer(
                self, "Authorizer", cognito_user_pools=[self.user_pool]
            )
            return apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.COGNITO, authorizer=authorizer
            )
        if options.auth_mode == "apikey":
            return apigw.MethodOptions(authorization_type=apigw.AuthorizationType.NONE, api_key_required=True)
        return apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM)

    def _api_key_plan(self, options: InstallOptions) -> None:
        """API-key installs: one key, in a usage plan that repeats the stage's throttling."""
        plan = self.api.add_usage_plan(
            "UsagePlan",
            throttle=apigw.ThrottleSettings(
                rate_limit=options.throttle_rate_limit, burst_limit=options.throttle_burst_limit
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        self.api_key = self.api.add_api_key("ApiKey", description="Key for the terraform provisioner API")
        plan.add_api_key(self.api_key)

    def _gateway_responses(self) -> None:
        """Errors the gateway answers itself, in the handlers' shape: {"error": ..., "message": ...}."""
        json_type = {
            "application/json": '{"error": "gateway_error", "message": $context.error.messageString}'
        }
        self.api.add_gateway_response(
            "BadBody",
            type=apigw.ResponseType.BAD_REQUEST_BODY,
            templates={"application/json": BAD_BODY_TEMPLATE},
        )
        self.api.add_gateway_response(
            "TooLarge",
            type=apigw.ResponseType.REQUEST_TOO_LARGE,
            status_code="413",
            templates={
                "application/json": json.dumps(
                    {
                        "error": "payload_too_large",
                        "message": f"the request body is larger than {MAX_REQUEST_BYTES} bytes",
                    }
                )
            },
        )
        self.api.add_gateway_response("Default4xx", type=apigw.ResponseType.DEFAULT_4_XX, templates=json_type)
        self.api.add_gateway_response("Default5xx", type=apigw.ResponseType.DEFAULT_5_XX, templates=json_type)

    def _suppressions(self, options: InstallOptions) -> None:
        suppress(
            self.api,
            "AwsSolutions-APIG3",
            "No WAF by design: every method is authenticated, the stage throttles, and the body is "
            "validated before a handler runs.",
            children=True,
        )
        suppress(
            self.api,
            "AwsSolutions-IAM4",
            "API Gateway's account-level CloudWatch role uses the AWS managed policy "
            "AmazonAPIGatewayPushToCloudWatchLogs, as AWS documents.",
            findings=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
            ],
            children=True,
        )
        if options.auth_mode != "cognito":
            suppress(
                self.api,
                "AwsSolutions-COG4",
                f"This install authenticates with {options.auth_mode}, not a Cognito user pool.",
                children=True,
            )
        if options.auth_mode == "apikey":
            suppress(
                self.api,
                "AwsSolutions-APIG4",
                "The install chose API keys: every method requires one (api_key_required).",
                children=True,
            )
        if self.user_pool is not None:
            for rule in ("AwsSolutions-COG3", "AwsSolutions-COG8"):
                suppress(
                    self.user_pool,
                    rule,
                    "Threat protection needs Cognito's paid Plus plan; MFA is required and sign-up is "
                    "closed, so an operator may add it but the install does not impose it.",
                )
