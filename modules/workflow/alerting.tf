# Who the alarms reach: email addresses and HTTPS endpoints (PagerDuty's Events API
# integration URL, a chat webhook) subscribed to the alarm topic (alarms.tf).
#
# Both protocols confirm first: SNS sends a SubscriptionConfirmation (an email with a
# link; a POST carrying SubscribeURL and Token) and delivers nothing until it is
# confirmed (https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html).
# `ceap-tf status NAME` lists each subscription with its confirmation state. The topic
# is encrypted with the workflow key: SNS decrypts before it delivers to email and
# HTTPS endpoints, so subscribers need no key grant; the publishers (CloudWatch alarms,
# the Glue-failure rule, the budget) have theirs in the key policy
# (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).

locals {
  # for_each keys must not be sensitive; the names are, the URLs are not shown.
  alarm_https_endpoint_names = nonsensitive(toset(keys(var.alarm_https_endpoints)))
}

resource "aws_sns_topic_subscription" "alarm_email" {
  for_each = toset(var.alarm_email_addresses)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "alarm_https" {
  for_each = local.alarm_https_endpoint_names

  topic_arn              = aws_sns_topic.alarms.arn
  protocol               = "https"
  endpoint               = var.alarm_https_endpoints[each.key].url
  endpoint_auto_confirms = var.alarm_https_endpoints[each.key].auto_confirms
  raw_message_delivery   = var.alarm_https_endpoints[each.key].raw_message_delivery
}
