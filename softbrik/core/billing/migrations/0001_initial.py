from tortoise import migrations
from tortoise.migrations import operations as ops
from softbrik.core.billing.models import BillingStage, InvoiceKind, InvoiceStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='BillingAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team_id', fields.IntField(unique=True)),
                ('next_billing_date', fields.DateField()),
                ('stage', fields.CharEnumField(default=BillingStage.REMIND, description='REMIND: REMIND\nCOMPOSE: COMPOSE\nRENEW: RENEW\nDONE: DONE', enum_type=BillingStage, max_length=8)),
                ('next_run_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('closure_requested_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closure_effective_on', fields.DateField(null=True)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'billing_account', 'app': 'billing', 'pk_attr': 'id', 'table_description': "A team's billing state: the next billing date, the stage towards it, and closure."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BillingStep',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team_id', fields.IntField()),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('done_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'billing_step', 'app': 'billing', 'pk_attr': 'id', 'table_description': 'Work done once per team and key (a reminder, a closure): a re-run finds it and skips.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invoice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team_id', fields.IntField(db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('kind', fields.CharEnumField(description='SIGN_UP: SIGN_UP\nADDITION: ADDITION\nRENEWAL: RENEWAL\nCREDIT_NOTE: CREDIT_NOTE', enum_type=InvoiceKind, max_length=12)),
                ('status', fields.CharEnumField(default=InvoiceStatus.DRAFT, description='DRAFT: DRAFT\nOPEN: OPEN\nPAID: PAID\nVOID: VOID\nUNCOLLECTIBLE: UNCOLLECTIBLE', enum_type=InvoiceStatus, max_length=14)),
                ('sequence', fields.IntField(null=True, unique=True)),
                ('number', fields.CharField(null=True, max_length=20)),
                ('period_start', fields.DateField()),
                ('period_end', fields.DateField()),
                ('currency', fields.CharField(default='EUR', max_length=3)),
                ('subtotal_cents', fields.BigIntField(default=0)),
                ('vat_rate', fields.DecimalField(default=0, max_digits=5, decimal_places=2)),
                ('vat_cents', fields.BigIntField(default=0)),
                ('total_cents', fields.BigIntField(default=0)),
                ('reverse_charge', fields.BooleanField(default=False)),
                ('buyer_name', fields.CharField(max_length=200)),
                ('buyer_address', fields.TextField(default='', unique=False)),
                ('buyer_country', fields.CharField(max_length=2)),
                ('buyer_vat_number', fields.CharField(null=True, max_length=32)),
                ('buyer_email', fields.CharField(default='', max_length=254)),
                ('language', fields.CharField(default='da', max_length=5)),
                ('credit_for_id', fields.IntField(null=True)),
                ('note', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('issued_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.SmallIntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'invoice', 'app': 'billing', 'indexes': [Index(fields=['team_id', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=20)),
                ('value', fields.IntField(default=0)),
            ],
            options={'table': 'invoice_counter', 'app': 'billing', 'pk_attr': 'id', 'table_description': 'The one gapless invoice sequence (R-BILL-18): taken under a row lock at finalization.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invoice', fields.ForeignKeyField('billing.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('description', fields.CharField(max_length=300)),
                ('brik', fields.CharField(max_length=40)),
                ('user_id', fields.IntField(null=True)),
                ('user_name', fields.CharField(default='', max_length=200)),
                ('quantity', fields.IntField(default=1)),
                ('unit_cents', fields.BigIntField()),
                ('amount_cents', fields.BigIntField()),
                ('period_start', fields.DateField()),
                ('period_end', fields.DateField()),
            ],
            options={'table': 'invoice_line', 'app': 'billing', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invoice', fields.ForeignKeyField('billing.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='payment_attempts', on_delete=OnDelete.CASCADE)),
                ('number', fields.SmallIntField()),
                ('idempotency_key', fields.CharField(unique=True, max_length=255)),
                ('charge_id', fields.CharField(default='', max_length=100)),
                ('amount_cents', fields.BigIntField()),
                ('succeeded', fields.BooleanField()),
                ('failure_message', fields.TextField(null=True, unique=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payment_attempt', 'app': 'billing', 'unique_together': (('invoice', 'number'),), 'pk_attr': 'id', 'table_description': 'One call to the payment provider for an invoice, with its idempotency key (R-BILL-21).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(unique=True, max_length=100)),
                ('type', fields.CharField(max_length=100)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_event', 'app': 'billing', 'pk_attr': 'id', 'table_description': 'A processed Stripe webhook event id, so a replay is not processed twice.'},
            bases=['Model'],
        ),
    ]
