# Generated from lambda_src/ceap_stages/schemas.py (the stage contract's record
# schemas) by: PYTHONPATH=lambda_src python -m ceap_stages.schemas >
# modules/workflow/catalog_schema.tf -- do not edit; tests/test_catalog_schema.py
# fails when it is stale. catalog.tf builds the Glue tables from it.
locals {
  catalog_schema = {
    candidates = {
      columns = [
        { name = "customerId", type = "string", comment = "customer id" },
        { name = "context", type = "array<struct<type:string,id:string>>", comment = "program and marketplace" },
        { name = "subject", type = "struct<type:string,id:string>", comment = "what the customer is asked about" },
        { name = "attributes", type = "struct<eventDate:string,deliveryDate:string,orderValue:double,currency:string,channelEligibility:struct<email:boolean,push:boolean,inApp:boolean,voice:boolean>,optedOut:boolean,orderId:string,eventId:string,fraudRisk:double,enrichment:struct<orderCount30d:bigint,orderCount90d:bigint,avgOrderValue90d:double,daysSinceLastOrder:bigint,priorResponseCount:bigint>>", comment = "order facts, channels, fraud signal if any, HeavyETL enrichment (STANDARD)" },
        { name = "scores", type = "map<string,struct<value:double,confidence:double>>", comment = "modelId -> score" },
        { name = "metadata", type = "struct<programId:string,marketplace:string,workflowExecutionId:string,createdAt:string,expiresAt:string>", comment = "program, marketplace, execution, timestamps" },
      ]
      partitions = [
        { name = "execution_id", type = "string", comment = "executions/{executionId}/: the execution name" },
        { name = "stage", type = "string", comment = "the stage that wrote the records" },
      ]
      stages = ["ETL", "Filter", "HeavyETL", "Score", "Store"]
    }
    customer_history = {
      columns = [
        { name = "customerId", type = "string", comment = "customer id" },
        { name = "orderId", type = "string", comment = "order id" },
        { name = "orderDate", type = "string", comment = "ISO date of the order" },
        { name = "orderValue", type = "double", comment = "order value" },
        { name = "marketplace", type = "string", comment = "marketplace" },
        { name = "responded", type = "boolean", comment = "responded to a prior engagement" },
      ]
      partitions = [
        { name = "dt", type = "string", comment = "dt=YYYY-MM-DD: the day of the history part" },
      ]
    }
  }
}
