# The seed's example: an API Gateway in front of a Lambda function, with DynamoDB, S3 and RDS.
# Deploys as is into local mode's sandbox (make local) and into a real account.

variable "name" {
  type    = string
  default = "webapp"
}

variable "lambda_runtime" {
  description = "python3.8 is the newest runtime the offline AWS provider (3.39) knows; use python3.12 with current providers"
  type        = string
  default     = "python3.8"
}

variable "db_password" {
  type      = string
  sensitive = true
}

provider "aws" {
  region = "us-east-1"
}

resource "aws_s3_bucket" "assets" {
  bucket = "${var.name}-assets"
}

resource "aws_dynamodb_table" "items" {
  name         = "${var.name}-items"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_iam_role" "lambda" {
  name = "${var.name}-lambda"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy" "lambda_table" {
  name = "items"
  role = aws_iam_role.lambda.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
      Resource = aws_dynamodb_table.items.arn
    }]
  })
}

# The function's code, a zip kept inline so the example is self-contained.
resource "aws_s3_bucket" "code" {
  bucket = "${var.name}-code"
}

resource "aws_s3_bucket_object" "handler" {
  bucket         = aws_s3_bucket.code.id
  key            = "handler.zip"
  content_base64 = "UEsDBBQAAAAIACpxel1B2YOMZgAAAHEAAAAIAAAAaW5kZXgucHkVjDEOgzAMAPe8wvIEEqoQIysvAeyKomAjx6GtIv7e9La74V7HqeawJ5UQiJ+wzUKRreGLxTtYVZw/3o4BKsaeTaBg8tlzmpQYRxj6vgNclL5V/qcH5eNMTcGNY9Qa8a0WCe/2Dj9QSwECFAMUAAAACAAqcXpdQdmDjGYAAABxAAAACAAAAAAAAAAAAAAAgAEAAAAAaW5kZXgucHlQSwUGAAAAAAEAAQA2AAAAjAAAAAAA"
}

resource "aws_lambda_function" "api" {
  function_name = "${var.name}-api"
  role          = aws_iam_role.lambda.arn
  runtime       = var.lambda_runtime
  handler       = "index.handler"
  s3_bucket     = aws_s3_bucket.code.id
  s3_key        = aws_s3_bucket_object.handler.key
  memory_size   = 256
  timeout       = 10

  environment {
    variables = {
      TABLE_NAME = aws_dynamodb_table.items.name
    }
  }
}

resource "aws_api_gateway_rest_api" "api" {
  name = "${var.name}-api"
}

resource "aws_api_gateway_resource" "items" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "items"
}

resource "aws_api_gateway_method" "get_items" {
  rest_api_id   = aws_api_gateway_rest_api.api.id
  resource_id   = aws_api_gateway_resource.items.id
  http_method   = "GET"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "get_items" {
  rest_api_id             = aws_api_gateway_rest_api.api.id
  resource_id             = aws_api_gateway_resource.items.id
  http_method             = aws_api_gateway_method.get_items.http_method
  integration_http_method = "POST"
  type                    = "AWS_PROXY"
  uri                     = aws_lambda_function.api.invoke_arn
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.api.execution_arn}/*/*"
}

resource "aws_api_gateway_deployment" "api" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  depends_on  = [aws_api_gateway_integration.get_items]
}

resource "aws_api_gateway_stage" "prod" {
  rest_api_id   = aws_api_gateway_rest_api.api.id
  deployment_id = aws_api_gateway_deployment.api.id
  stage_name    = "prod"
}

resource "aws_db_instance" "db" {
  identifier          = "${var.name}-db"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  username            = "app"
  password            = var.db_password
  skip_final_snapshot = true
}

output "api_gateway_url" {
  value = aws_api_gateway_stage.prod.invoke_url
}

output "database_endpoint" {
  value = "${aws_db_instance.db.address}:${aws_db_instance.db.port}"
}

output "s3_bucket_name" {
  value = aws_s3_bucket.assets.bucket
}

output "database_password" {
  value     = var.db_password
  sensitive = true
}
