from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from softbrik.core.security.models import FindingStatus, Severity
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AccountLock',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.IntField(unique=True)),
                ('team_id', fields.IntField(db_index=True)),
                ('locked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finding_id', fields.IntField(null=True)),
            ],
            options={'table': 'security_account_lock', 'app': 'security', 'pk_attr': 'id', 'table_description': 'A locked account: it cannot sign in until an administrator unlocks it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('team_id', fields.IntField(null=True)),
                ('user_id', fields.IntField(null=True)),
                ('admin', fields.BooleanField(default=False)),
                ('kind', fields.CharField(max_length=16)),
                ('operation', fields.CharField(default='', max_length=100)),
                ('selection', fields.CharField(default='', max_length=255)),
                ('client_address', fields.CharField(default='', max_length=64)),
                ('outcome', fields.CharField(default='ok', max_length=100)),
                ('denied', fields.SmallIntField(default=0)),
                ('duration_ms', fields.IntField(default=0)),
                ('token', fields.CharField(default='', max_length=8)),
                ('subject', fields.CharField(null=True, max_length=64)),
                ('size', fields.BigIntField(default=0)),
            ],
            options={'table': 'audit_entry', 'app': 'security', 'indexes': [Index(fields=['user_id', 'at']), Index(fields=['client_address', 'at']), Index(fields=['subject', 'at'])], 'pk_attr': 'id', 'table_description': 'One operation: who, team, what, from where, with what outcome (R-SEC-3).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Finding',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team_id', fields.IntField(null=True, db_index=True)),
                ('user_id', fields.IntField(null=True)),
                ('kind', fields.CharField(max_length=32)),
                ('severity', fields.CharEnumField(description='LOW: LOW\nMEDIUM: MEDIUM\nHIGH: HIGH', enum_type=Severity, max_length=8)),
                ('status', fields.CharEnumField(default=FindingStatus.OPEN, description='OPEN: OPEN\nRESOLVED: RESOLVED', enum_type=FindingStatus, max_length=8)),
                ('dedup_key', fields.CharField(db_index=True, max_length=200)),
                ('open_key', fields.CharField(null=True, unique=True, max_length=200)),
                ('evidence', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('occurrences', fields.IntField(default=1)),
                ('action', fields.CharField(default='', max_length=100)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_by', fields.IntField(null=True)),
            ],
            options={'table': 'security_finding', 'app': 'security', 'pk_attr': 'id', 'table_description': 'Something the threat detection noticed, with its evidence (R-SEC-3).'},
            bases=['Model'],
        ),
    ]
